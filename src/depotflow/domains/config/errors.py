"""Errors of the config domain."""

from depotflow.core.errors import ValidationFailed


class InvalidSetting(ValidationFailed):
    code = "config.invalid_setting"
