"""The built-in tools' rule subjects, read from the tools themselves, for policy unit tests
that build rule sets without a session."""

from __future__ import annotations

import functools

from termagent.policy.rules import RuleSet
from termagent.tools.bash import BashTool
from termagent.tools.delegate import DelegateTool
from termagent.tools.registry import default_tools

SUBJECTS = {tool.spec.name: tool.spec.subject for tool in [*default_tools(), BashTool()]}
SUBJECTS[DelegateTool.NAME] = DelegateTool.SUBJECT
rule_set = functools.partial(RuleSet.from_config, subjects=SUBJECTS)
NO_RULES = RuleSet(subjects=SUBJECTS)
