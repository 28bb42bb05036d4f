"""Client for an InvenTree server used as the identity server (its token and user endpoints)."""

from dataclasses import dataclass

import httpx


class UpstreamError(Exception):
    """The identity server could not be reached or answered something unexpected."""


@dataclass(frozen=True, slots=True)
class UpstreamUser:
    username: str
    first_name: str
    last_name: str
    email: str | None
    is_staff: bool


class InvenTreeIdentity:
    def __init__(self, base_url: str, *, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    async def obtain_token(self, username: str, password: str) -> str | None:
        """The user's InvenTree token, or None when InvenTree refuses the credentials.

        Raises: UpstreamError.
        """
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            try:
                response = await client.get(f"{self.base_url}/api/user/token/", auth=(username, password))
            except httpx.HTTPError as exc:
                raise UpstreamError(f"cannot reach the identity server: {type(exc).__name__}") from exc
        if response.status_code in (400, 401, 403):
            return None
        if response.status_code != 200:
            raise UpstreamError(f"identity server answered {response.status_code}")
        try:
            token = response.json().get("token")
        except ValueError as exc:
            raise UpstreamError("identity server sent a malformed token response") from exc
        if not isinstance(token, str) or not token:
            raise UpstreamError("identity server sent no token")
        return token

    async def me(self, token: str) -> UpstreamUser | None:
        """The user behind `token`, or None when InvenTree no longer accepts it.

        Raises: UpstreamError.
        """
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            try:
                response = await client.get(
                    f"{self.base_url}/api/user/me/", headers={"Authorization": f"Token {token}"}
                )
            except httpx.HTTPError as exc:
                raise UpstreamError(f"cannot reach the identity server: {type(exc).__name__}") from exc
        if response.status_code in (401, 403):
            return None
        if response.status_code != 200:
            raise UpstreamError(f"identity server answered {response.status_code}")
        try:
            data = response.json()
            username = str(data["username"])
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamError("identity server sent a malformed user") from exc
        return UpstreamUser(
            username=username,
            first_name=str(data.get("first_name") or ""),
            last_name=str(data.get("last_name") or ""),
            email=data.get("email") or None,
            is_staff=bool(data.get("is_staff")) or bool(data.get("is_superuser")),
        )
