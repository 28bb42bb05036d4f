"""Demo data: a small pharmaceutical plant, loaded through the domain services (`depotflow demo`).

Everything goes through the same use cases the HTTP API calls, in the caller's unit of work, so the
data is consistent (ledger, balances, order states, approval flows) and every change is in the audit
trail, attributed to the demo user who would have made it (the buyer creates orders, the approvers
sign, the operator receives, the QC officer releases) with the reason of the unit of work.

The loader is idempotent by construction of its caller: `inspect` tells an empty database, one that
already holds the demo (the `buyer` account exists) and one with other data apart.
"""

import secrets
import string
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.clock import utcnow
from depotflow.core.context import set_actor
from depotflow.core.listing import PageRequest
from depotflow.core.security import Actor
from depotflow.core.settings import ProcurementSettings, SecuritySettings
from depotflow.domains.approval import service as approval_service
from depotflow.domains.approval.enums import Decision, OfficerAction, OfficerKind
from depotflow.domains.approval.schemas import OfficerIn, TemplateCreate
from depotflow.domains.audit import service as audit_service
from depotflow.domains.company import service as company_service
from depotflow.domains.company.schemas import Address, CompanyCreate, CompanyFilter, Contact, SupplierPartCreate
from depotflow.domains.config import service as config_service
from depotflow.domains.config.schemas import ConfigUpdate
from depotflow.domains.identity import service as identity_service
from depotflow.domains.identity.models import User
from depotflow.domains.identity.schemas import RoleCreate, UserCreate, UserFilter
from depotflow.domains.part import service as part_service
from depotflow.domains.part.schemas import CategoryCreate, PartCreate, UnitFilter
from depotflow.domains.procurement import service as procurement_service
from depotflow.domains.procurement.enums import OBJECT_TYPE as PURCHASE_ORDER
from depotflow.domains.procurement.models import PurchaseOrder
from depotflow.domains.procurement.schemas import Container, LineCreate, OrderCreate, ReceiveRequest
from depotflow.domains.stock import service as stock_service
from depotflow.domains.stock.enums import LocationType, QcResult
from depotflow.domains.stock.models import StockLot
from depotflow.domains.stock.schemas import LocationCreate, QcRecordCreate, QcRecordUpdate

# The account whose presence means the demo is loaded.
MARKER_USERNAME = "buyer"
# The account `depotflow serve` creates on the first start; it does not make a database "used".
BOOTSTRAP_USERNAME = "admin"
USER_AGENT = "depotflow demo"
PASSWORD_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


class DatabaseState(StrEnum):
    EMPTY = "empty"  # at most the bootstrap administrator, no companies
    LOADED = "loaded"  # the demo is there already
    IN_USE = "in_use"  # other data: users or companies


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    password: str
    role: str
    name: str


@dataclass(slots=True)
class DemoResult:
    users: list[DemoUser] = field(default_factory=list)
    # reference -> state, in creation order
    orders: dict[str, str] = field(default_factory=dict)


async def inspect(session: AsyncSession) -> DatabaseState:
    """What the database holds, as far as loading the demo is concerned.

    Takes the audit chain's head first, so that two loaders run one after the other and the second
    sees the first one's demo.
    """
    await audit_service.lock_chain(session)
    users = await identity_service.list_users(
        session,
        Actor.system("demo"),
        filters=UserFilter(),
        page=PageRequest(offset=0, limit=None),
        sort=None,
        search=None,
    )
    usernames = {u.username.lower() for u in users.items}
    if MARKER_USERNAME in usernames:
        return DatabaseState.LOADED
    companies = await company_service.list_companies(
        session, filters=CompanyFilter(), page=PageRequest(offset=0, limit=1), sort=None, search=None
    )
    if usernames - {BOOTSTRAP_USERNAME} or companies.total:
        return DatabaseState.IN_USE
    return DatabaseState.EMPTY


def new_password(security: SecuritySettings) -> str:
    """A random password the policy accepts (letters and digits, no look-alikes)."""
    length = max(16, security.password_min_length)
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def _actor(user: User) -> Actor:
    """The actor a logged-in user would be (as identity builds it from a user and its role)."""
    return Actor(
        user_id=user.id,
        username=user.username,
        permissions=frozenset(user.role.permissions if user.role else ()),
        display_name=user.full_name,
        role_id=user.role_id,
    )


# --- the plant ---------------------------------------------------------------------------------

ROLES: dict[str, tuple[str, str, list[str]]] = {
    "buyer": (
        "Buyer",
        "Purchasing: creates and follows up purchase orders",
        [
            "procurement.view",
            "procurement.add",
            "procurement.change",
            "procurement.cancel",
            "company.view",
            "part.view",
            "stock.view",
        ],
    ),
    "approver": (
        "Purchase approver",
        "Signs purchase orders (two signatures issue an order)",
        ["procurement.view", "approval.view", "approval.sign"],
    ),
    "warehouse": (
        "Warehouse operator",
        "Receives deliveries against issued orders and moves stock",
        ["procurement.view", "procurement.receive", "stock.view", "stock.adjust", "part.view"],
    ),
    "qc": (
        "QC officer",
        "Samples received lots, records analyses and releases or rejects them",
        ["procurement.view", "stock.view", "qc.record", "qc.release", "approval.view"],
    ),
}

# username -> (role slug, first name, last name, e-mail)
USERS: dict[str, tuple[str, str, str, str]] = {
    "buyer": ("buyer", "Bianca", "Pop", "bianca.pop@demo.depotflow.example"),
    "approver1": ("approver", "Andrei", "Ionescu", "andrei.ionescu@demo.depotflow.example"),
    "approver2": ("approver", "Elena", "Marin", "elena.marin@demo.depotflow.example"),
    "operator": ("warehouse", "Mihai", "Stan", "mihai.stan@demo.depotflow.example"),
    "qc_officer": ("qc", "Ioana", "Dumitrescu", "ioana.dumitrescu@demo.depotflow.example"),
}

COMPANIES: list[CompanyCreate] = [
    CompanyCreate(
        code="SUP-APICHEM",
        name="ApiChem Europe GmbH",
        is_supplier=True,
        currency="EUR",
        tax_id="DE811234567",
        payment_terms="60 days net",
        delivery_terms="DAP Cluj-Napoca (Incoterms 2020)",
        email="orders@apichem.example",
        phone="+49 621 555 0100",
        website="https://apichem.example",
        addresses=[
            Address(
                name="Head office",
                country="DE",
                city="Mannheim",
                postal_code="68165",
                address="Industriestraße 12",
                is_primary=True,
            )
        ],
        contacts=[Contact(name="Jonas Weber", role="Key account manager", email="j.weber@apichem.example")],
    ),
    CompanyCreate(
        code="SUP-EXCIPIA",
        name="Excipia SRL",
        is_supplier=True,
        currency="RON",
        tax_id="RO12345678",
        registration_number="J12/1234/2004",
        payment_terms="30 days net",
        delivery_terms="Delivered, unloaded",
        email="vanzari@excipia.example",
        phone="+40 264 555 200",
        addresses=[
            Address(
                name="Warehouse",
                country="RO",
                city="Cluj-Napoca",
                postal_code="400641",
                address="Str. Fabricii 8",
                is_primary=True,
            )
        ],
        contacts=[Contact(name="Radu Pavel", role="Sales", phone="+40 744 555 201", email="radu@excipia.example")],
    ),
    CompanyCreate(
        code="SUP-PACKWELL",
        name="Packwell Romania SRL",
        is_supplier=True,
        currency="RON",
        tax_id="RO23456789",
        payment_terms="45 days net",
        email="office@packwell.example",
        addresses=[
            Address(name="Plant", country="RO", city="Brașov", postal_code="500407", address="Calea Feldioarei 20")
        ],
        contacts=[Contact(name="Andreea Toma", role="Customer service", email="andreea@packwell.example")],
    ),
    CompanyCreate(
        code="MFR-SYNTHA",
        name="Syntha Pharmaceuticals Ltd",
        is_manufacturer=True,
        currency="EUR",
        notes="Manufacturer of the paracetamol API distributed by ApiChem Europe.",
        addresses=[Address(name="API site", country="IN", city="Hyderabad", address="Plot 45, Phase II, IDA")],
    ),
    CompanyCreate(
        code="CUS-FARMACIA",
        name="Farmacia Centrală SRL",
        is_customer=True,
        currency="RON",
        addresses=[Address(name="Distribution centre", country="RO", city="Cluj-Napoca", address="Bd. Muncii 100")],
    ),
]

# Category tree: (name, parent name or None, description)
CATEGORIES: list[tuple[str, str | None, str]] = [
    ("Raw materials", None, "Everything that goes into the product"),
    ("Active substances", "Raw materials", "Active pharmaceutical ingredients (APIs)"),
    ("Excipients", "Raw materials", ""),
    ("Packaging", None, "Packaging materials"),
    ("Primary packaging", "Packaging", "In contact with the product"),
    ("Secondary packaging", "Packaging", ""),
]

# Locations: (code, name, type, parent code or None, description)
LOCATIONS: list[tuple[str, str, LocationType, str | None, str]] = [
    ("CLJ", "Cluj plant", LocationType.OTHER, None, "Manufacturing site"),
    ("CLJ-WH-RM", "Raw materials warehouse", LocationType.WAREHOUSE, "CLJ", "15-25 °C, controlled humidity"),
    ("CLJ-WH-PKG", "Packaging warehouse", LocationType.WAREHOUSE, "CLJ", ""),
    ("CLJ-QUA", "Quarantine area", LocationType.WAREHOUSE, "CLJ", "Goods wait here for QC release"),
    ("CLJ-PROD", "Production hall", LocationType.PRODUCTION, "CLJ", "Granulation, compression, blistering"),
    ("CLJ-QC-LAB", "QC laboratory", LocationType.LABORATORY, "CLJ", "Samples for analysis"),
]


@dataclass(frozen=True, slots=True)
class PartSpec:
    ipn: str
    name: str
    unit: str
    category: str
    location: str
    qc: bool  # requires QC release
    expiry: bool  # tracks expiry
    description: str = ""


PARTS: list[PartSpec] = [
    PartSpec("RM-API-001", "Paracetamol API", "kg", "Active substances", "CLJ-QUA", True, True, "Ph. Eur. grade"),
    PartSpec("RM-EXC-001", "Microcrystalline cellulose", "kg", "Excipients", "CLJ-QUA", True, True, "PH-102"),
    PartSpec("RM-EXC-002", "Magnesium stearate", "kg", "Excipients", "CLJ-QUA", True, True, "Vegetable origin"),
    PartSpec("RM-EXC-003", "Iron oxide yellow (E172)", "g", "Excipients", "CLJ-QUA", True, True, "Colourant"),
    PartSpec("RM-EXC-004", "Purified water", "l", "Excipients", "CLJ-QUA", True, True, "Ph. Eur., bulk"),
    PartSpec("PK-PRI-001", "Blister foil", "pcs", "Primary packaging", "CLJ-WH-PKG", False, False, "Alu 20 µm, roll"),
    PartSpec("PK-SEC-001", "Carton box", "pcs", "Secondary packaging", "CLJ-WH-PKG", False, False, "2 x 10 tablets"),
]

# (supplier code, part IPN, supplier's code, supplier unit, pack quantity, price per supplier unit, lead days)
SUPPLIER_PARTS: list[tuple[str, str, str, str, str, str, int]] = [
    ("SUP-APICHEM", "RM-API-001", "PCM-EP-25", "drum 25 kg", "25", "412.50", 42),
    ("SUP-EXCIPIA", "RM-EXC-001", "MCC102-20", "bag 20 kg", "20", "176.00", 10),
    ("SUP-EXCIPIA", "RM-EXC-002", "MGST-V-10", "bag 10 kg", "10", "395.00", 10),
    ("SUP-EXCIPIA", "RM-EXC-003", "E172Y-500", "jar 500 g", "500", "145.00", 14),
    ("SUP-EXCIPIA", "RM-EXC-004", "PW-IBC-1000", "IBC 1000 l", "1000", "850.00", 3),
    ("SUP-PACKWELL", "PK-PRI-001", "ALU20-R", "roll", "1", "310.00", 21),
    ("SUP-PACKWELL", "PK-SEC-001", "CTN-2X10", "bundle of 500", "500", "600.00", 21),
]

DOCUMENT_TEMPLATES = {"PO-STD": "Purchase order", "PO-QC": "QC release note"}


# --- loading -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Plant:
    actors: dict[str, Actor] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    companies: dict[str, int] = field(default_factory=dict)
    parts: dict[str, int] = field(default_factory=dict)
    locations: dict[str, int] = field(default_factory=dict)
    # (supplier code, IPN) -> (supplier part id, price per part unit)
    offers: dict[tuple[str, str], tuple[int, Decimal]] = field(default_factory=dict)


async def load(
    session: AsyncSession,
    /,
    *,
    security: SecuritySettings,
    procurement: ProcurementSettings,
    secret: str,
    today: date | None = None,
) -> DemoResult:
    """Load the demo plant in the caller's unit of work (which commits it) and return the demo
    accounts with their passwords, and the orders with their states.

    The caller decides whether to load (see `inspect`); loading twice fails on the taken usernames.
    """
    today = today or utcnow().date()
    admin = Actor.system("demo")
    await audit_service.lock_chain(session)  # one loader at a time; `inspect` was read under it
    set_actor(session.sync_session, admin)
    plant = _Plant()
    result = DemoResult()

    roles = {}
    for slug, (name, description, permissions) in ROLES.items():
        role = await identity_service.create_role(
            session, admin, data=RoleCreate(name=name, slug=slug, description=description, permissions=permissions)
        )
        roles[slug] = role
    for username, (role_slug, first_name, last_name, email) in USERS.items():
        password = new_password(security)
        user = await identity_service.create_user(
            session,
            admin,
            data=UserCreate(
                username=username,
                password=password,
                first_name=first_name,
                last_name=last_name,
                email=email,
                role_id=roles[role_slug].id,
                must_change_password=False,  # a demo account is used at once
            ),
            security=security,
        )
        plant.actors[username] = _actor(user)
        plant.passwords[username] = password
        result.users.append(
            DemoUser(username=username, password=password, role=roles[role_slug].name, name=user.full_name)
        )

    await _master_data(session, admin, plant)
    await config_service.update_config(
        session, admin, data=ConfigUpdate(procurement_document_templates=DOCUMENT_TEMPLATES)
    )
    await approval_service.create_template(
        session,
        admin,
        data=TemplateCreate(
            object_type=PURCHASE_ORDER,
            stage="",
            name="Purchase orders: two approvers",
            description="Both purchase approvers sign every purchase order before it is issued.",
            officers=[
                OfficerIn(kind=OfficerKind.USER, user_id=plant.actors[name].user_id, action=OfficerAction.MUST_SIGN)
                for name in ("approver1", "approver2")
            ],
        ),
    )
    for order in await _orders(session, plant, procurement=procurement, secret=secret, today=today):
        result.orders[order.reference] = order.state
    set_actor(session.sync_session, admin)
    return result


async def _master_data(session: AsyncSession, admin: Actor, plant: _Plant) -> None:
    for data in COMPANIES:
        company = await company_service.create_company(session, admin, data=data)
        plant.companies[company.code] = company.id
    categories: dict[str, int] = {}
    for name, parent, description in CATEGORIES:
        category = await part_service.create_category(
            session,
            admin,
            data=CategoryCreate(name=name, parent_id=categories[parent] if parent else None, description=description),
        )
        categories[name] = category.id
    for code, name, kind, parent, description in LOCATIONS:
        location = await stock_service.create_location(
            session,
            admin,
            data=LocationCreate(
                code=code,
                name=name,
                type=kind,
                parent_id=plant.locations[parent] if parent else None,
                description=description,
            ),
        )
        plant.locations[code] = location.id
    units = await part_service.list_units(
        session, filters=UnitFilter(is_active=True), page=PageRequest(offset=0, limit=None), sort=None, search=None
    )
    unit_ids = {u.code: u.id for u in units.items}
    for spec in PARTS:
        part = await part_service.create_part(
            session,
            admin,
            data=PartCreate(
                ipn=spec.ipn,
                name=spec.name,
                description=spec.description,
                category_id=categories[spec.category],
                unit_id=unit_ids[spec.unit],
                is_purchaseable=True,
                is_component=True,
                requires_qc_release=spec.qc,
                tracks_expiry=spec.expiry,
                default_location_id=plant.locations[spec.location],
            ),
        )
        plant.parts[spec.ipn] = part.id
    for supplier, ipn, code, unit, pack, price, lead in SUPPLIER_PARTS:
        offer = await company_service.create_supplier_part(
            session,
            admin,
            data=SupplierPartCreate(
                supplier_id=plant.companies[supplier],
                part_id=plant.parts[ipn],
                supplier_code=code,
                supplier_unit=unit,
                pack_quantity=Decimal(pack),
                price=Decimal(price),
                lead_time_days=lead,
            ),
        )
        plant.offers[(supplier, ipn)] = (offer.id, (Decimal(price) / Decimal(pack)).quantize(Decimal("0.0001")))


async def _order(
    session: AsyncSession,
    plant: _Plant,
    *,
    supplier: str,
    destination: str,
    lines: list[tuple[str, str]],
    description: str,
    issue_date: date,
    target_date: date,
    supplier_reference: str = "",
) -> tuple[PurchaseOrder, list[int]]:
    """A pending order with lines [(IPN, quantity)] at the supplier's prices, created by the buyer."""
    buyer = plant.actors["buyer"]
    set_actor(session.sync_session, buyer)
    order = await procurement_service.create_order(
        session,
        buyer,
        data=OrderCreate(
            supplier_id=plant.companies[supplier],
            description=description,
            supplier_reference=supplier_reference,
            issue_date=issue_date,
            target_date=target_date,
            destination_id=plant.locations[destination],
        ),
    )
    line_ids = []
    for ipn, quantity in lines:
        offer_id, price = plant.offers[(supplier, ipn)]
        line = await procurement_service.add_line(
            session,
            buyer,
            order_id=order.id,
            data=LineCreate(
                part_id=plant.parts[ipn], quantity=Decimal(quantity), supplier_part_id=offer_id, purchase_price=price
            ),
        )
        line_ids.append(line.id)
    return order, line_ids


async def _sign(session: AsyncSession, plant: _Plant, order: PurchaseOrder, *approvers: str, secret: str) -> None:
    flow = await procurement_service.require_flow(session, order.id)
    for username in approvers:
        actor = plant.actors[username]
        set_actor(session.sync_session, actor)
        await approval_service.sign(
            session,
            actor,
            flow_id=flow.id,
            decision=Decision.APPROVE,
            meaning=None,
            reason=None,
            ip_address=None,
            user_agent=USER_AGENT,
            secret=secret,
        )


async def _receive(
    session: AsyncSession,
    plant: _Plant,
    order: PurchaseOrder,
    line_id: int,
    quantity: str,
    *,
    procurement: ProcurementSettings,
    today: date,
    supplier_batch: str,
    containers: int,
    unit: str = "kg",
) -> StockLot:
    operator = plant.actors["operator"]
    set_actor(session.sync_session, operator)
    return await procurement_service.receive(
        session,
        operator,
        order_id=order.id,
        data=ReceiveRequest(
            line_id=line_id,
            quantity=Decimal(quantity),
            supplier_batch_code=supplier_batch,
            manufacturing_date=today - timedelta(days=60),
            expiry_date=today + timedelta(days=3 * 365),
            containers=[
                Container(num_containers=containers, products_per_container=Decimal(quantity) / containers, unit=unit)
            ],
            containers_cleaned=True,
            supplier_ba_no=f"CoA-{supplier_batch}",
            supplier_ba_date=today - timedelta(days=30),
            accord_ba=True,
            is_list_supplier=True,
            clean_transport=True,
            notes="Delivered in good condition",
        ),
        policy=procurement,
    )


async def _orders(
    session: AsyncSession, plant: _Plant, *, procurement: ProcurementSettings, secret: str, today: date
) -> list[PurchaseOrder]:
    """Six orders, one in each situation a user meets first."""
    days = timedelta(days=1)
    # 1. Pending, nobody has signed yet.
    pending, _ = await _order(
        session,
        plant,
        supplier="SUP-EXCIPIA",
        destination="CLJ-QUA",
        lines=[("RM-EXC-001", "400"), ("RM-EXC-002", "20"), ("RM-EXC-003", "1500")],
        description="Excipients for the Q1 paracetamol 500 mg campaign",
        issue_date=today,
        target_date=today + 21 * days,
    )
    # 2. Pending, the first approver has signed.
    half_signed, _ = await _order(
        session,
        plant,
        supplier="SUP-PACKWELL",
        destination="CLJ-WH-PKG",
        lines=[("PK-PRI-001", "40"), ("PK-SEC-001", "20000")],
        description="Packaging for the Q1 campaign",
        issue_date=today - 1 * days,
        target_date=today + 30 * days,
    )
    await _sign(session, plant, half_signed, "approver1", secret=secret)
    # 3. Issued: both approvers signed, nothing delivered yet.
    issued, _ = await _order(
        session,
        plant,
        supplier="SUP-EXCIPIA",
        destination="CLJ-QUA",
        lines=[("RM-EXC-004", "3000")],
        description="Purified water, monthly delivery",
        issue_date=today - 3 * days,
        target_date=today + 4 * days,
        supplier_reference="EXC-SO-88120",
    )
    await _sign(session, plant, issued, "approver1", "approver2", secret=secret)
    # 4. Receiving: half of the API delivered, the lot waits in quarantine for QC.
    receiving, (api_line,) = await _order(
        session,
        plant,
        supplier="SUP-APICHEM",
        destination="CLJ-QUA",
        lines=[("RM-API-001", "200")],
        description="Paracetamol API, two partial deliveries",
        issue_date=today - 20 * days,
        target_date=today + 10 * days,
        supplier_reference="AC-2231/EU",
    )
    await _sign(session, plant, receiving, "approver1", "approver2", secret=secret)
    await _receive(
        session,
        plant,
        receiving,
        api_line,
        "100",
        procurement=procurement,
        today=today,
        supplier_batch="PCM-240117",
        containers=4,
    )
    # 5. Finished: delivered in full, sampled, analysed and released by QC.
    finished, (mcc_line,) = await _order(
        session,
        plant,
        supplier="SUP-EXCIPIA",
        destination="CLJ-QUA",
        lines=[("RM-EXC-001", "200")],
        description="Microcrystalline cellulose, urgent top-up",
        issue_date=today - 30 * days,
        target_date=today - 20 * days,
    )
    await _sign(session, plant, finished, "approver1", "approver2", secret=secret)
    lot = await _receive(
        session,
        plant,
        finished,
        mcc_line,
        "200",
        procurement=procurement,
        today=today - 20 * days,
        supplier_batch="MCC-23-0917",
        containers=10,
    )
    qc = plant.actors["qc_officer"]
    set_actor(session.sync_session, qc)
    record = await procurement_service.create_qc_record(
        session,
        qc,
        order_id=finished.id,
        data=QcRecordCreate(
            lot_id=lot.id,
            sampling_date=today - 19 * days,
            sampled_quantity=Decimal("0.5"),
            analysis_number=f"QC-{today.year}-0042",
            analysis_date=today - 15 * days,
            result=QcResult.CONFORM,
            comment="Identification (IR), loss on drying and particle size conform to the specification.",
        ),
    )
    await procurement_service.update_qc_record(
        session,
        qc,
        order_id=finished.id,
        qc_id=record.id,
        data=QcRecordUpdate(confirm=True, password=plant.passwords["qc_officer"], reason="Released for production"),
        ip_address=None,
        user_agent=USER_AGENT,
        secret=secret,
    )
    # 6. Cancelled by the buyer before anyone signed.
    cancelled, _ = await _order(
        session,
        plant,
        supplier="SUP-APICHEM",
        destination="CLJ-QUA",
        lines=[("RM-API-001", "50")],
        description="Paracetamol API (duplicate request)",
        issue_date=today - 2 * days,
        target_date=today + 40 * days,
    )
    set_actor(session.sync_session, plant.actors["buyer"])
    await procurement_service.change_state(
        session,
        plant.actors["buyer"],
        order_id=cancelled.id,
        state_name="cancelled",
        reason="Duplicate of the order with two partial deliveries",
    )
    orders = [pending, half_signed, issued, receiving, finished, cancelled]
    for order in orders:
        await session.refresh(order)
    return orders
