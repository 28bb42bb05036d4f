"""Trees of master data (part categories, stock locations) held in memory as {id: (name, parent_id)}.

Such trees are small and read whole in one query; these pure functions give paths and find cycles.
"""

Tree = dict[int, tuple[str, int | None]]
PATH_SEPARATOR = " / "


def path_of(tree: Tree, node_id: int) -> str:
    """The names from the top down, "Site / Warehouse A / Shelf 1" (bounded, should the data hold a cycle)."""
    names: list[str] = []
    current: int | None = node_id
    while current is not None and current in tree and len(names) <= len(tree):
        name, current = tree[current]
        names.append(name)
    return PATH_SEPARATOR.join(reversed(names))


def would_cycle(tree: Tree, node_id: int, new_parent_id: int) -> bool:
    """Whether hanging `node_id` under `new_parent_id` makes it its own ancestor."""
    ancestor: int | None = new_parent_id
    seen: set[int] = set()
    while ancestor is not None and ancestor not in seen:
        if ancestor == node_id:
            return True
        seen.add(ancestor)
        ancestor = tree[ancestor][1] if ancestor in tree else None
    return False
