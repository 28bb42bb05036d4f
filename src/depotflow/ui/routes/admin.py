"""UI routes: admin."""

from depotflow.ui.routing import ui_router

router = ui_router()
