"""Walkthrough: an approval flow signed by a role officer and a user officer, end to end over HTTP.

    .venv/bin/python docs/approvals_walkthrough.py --base-url http://127.0.0.1:8000 \\
        --admin admin --admin-password '...'

Steps (each printed as it happens):
 1. the administrator creates a role "QA officers" and a role "Signers", both allowed to sign;
 2. creates two people: qa.anna (QA officers) and plant.head (Signers);
 3. creates an approval template for changes to roles: any QA officer must sign, and plant.head must sign;
 4. starts a flow for the "QA officers" role itself (approving its permission set);
 5. qa.anna signs, re-entering her password: the flow is in progress;
 6. plant.head signs: the flow is approved;
 7. the signatures are verified (seal and content digest).
The test suite runs this script against a live `depotflow serve` (tests/docs/test_walkthrough.py).
"""

import argparse
import sys
import uuid

import httpx


def login(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['token']}"}


def check(response: httpx.Response) -> dict:  # type: ignore[type-arg]
    if response.is_error:
        sys.exit(f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text}")
    return response.json()  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--admin", default="admin")
    parser.add_argument("--admin-password", required=True)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:6]  # lets the walkthrough run more than once against one server

    with httpx.Client(base_url=args.base_url, timeout=30) as client:
        admin = login(client, args.admin, args.admin_password)
        signing = ["approval.sign", "approval.view"]
        qa_role = check(
            client.post(
                "/api/roles/", headers=admin, json={"name": "QA officers", "slug": f"qa-{run}", "permissions": signing}
            )
        )
        signers = check(
            client.post(
                "/api/roles/", headers=admin, json={"name": "Signers", "slug": f"signers-{run}", "permissions": signing}
            )
        )
        print(f"1. roles: {qa_role['name']} (id {qa_role['id']}), {signers['name']} (id {signers['id']})")

        people = []
        for username, role in ((f"qa.anna.{run}", qa_role), (f"plant.head.{run}", signers)):
            password = f"{username}-long-password"
            user = check(
                client.post(
                    "/api/users/",
                    headers=admin,
                    json={
                        "username": username,
                        "password": password,
                        "role_id": role["id"],
                        "first_name": username.split(".")[1].title(),
                    },
                )
            )
            people.append((user, password))
            print(f"2. user {user['username']} (id {user['id']}) in role {role['name']}")
        (anna, anna_password), (head, head_password) = people

        template = check(
            client.post(
                "/api/approvals/templates",
                headers=admin,
                json={
                    "object_type": "identity.role",
                    "name": f"Role change approval {run}",
                    "stage": f"walkthrough_{run}",
                    "officers": [
                        {"kind": "role", "role_id": qa_role["id"], "action": "must_sign"},
                        {"kind": "user", "user_id": head["id"], "action": "must_sign"},
                    ],
                },
            )
        )
        print(
            f"3. template {template['id']}: "
            + ", ".join(f"{o['action']} {o['kind']} {o['label']}" for o in template["officers"])
        )

        flow = check(
            client.post(
                "/api/approvals/flows",
                headers=admin,
                json={"object_type": "identity.role", "object_id": qa_role["id"], "stage": template["stage"]},
            )
        )
        print(f"4. flow {flow['id']} for '{flow['title']}': {flow['status']}")

        for step, (user, password) in ((5, (anna, anna_password)), (6, (head, head_password))):
            headers = login(client, user["username"], password)
            flow = check(
                client.post(
                    f"/api/approvals/flows/{flow['id']}/sign",
                    headers=headers,
                    json={"password": password, "meaning": "approved"},
                )
            )
            signature = flow["signatures"][-1]
            print(
                f"{step}. {signature['full_name']} ({signature['username']}) signed '{signature['meaning']}' "
                f"at {signature['signed_at']} from {signature['ip_address']}: flow {flow['status']}"
            )

        report = check(client.get(f"/api/approvals/flows/{flow['id']}/verify", headers=admin))
        print(
            f"7. verification: {'ok' if report['ok'] else 'BROKEN'} "
            f"({len(report['signatures'])} signatures, content unchanged: "
            f"{all(s['content_unchanged'] for s in report['signatures'])})"
        )
    print(f"result: {flow['status']}")
    return 0 if flow["status"] == "approved" and report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
