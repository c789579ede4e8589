"""Remote and cloud commands: what they destroy is somewhere no checkpoint can bring back.

`ssh host CMD` runs CMD through the remote shell, so CMD is classified like a local
command. Cloud and cluster CLIs delete buckets, machines, stacks and volumes with one
verb; the table below names those verbs per program (globs over the sub-command words),
and the options that make an otherwise routine verb destructive (`terraform apply
-destroy`, `docker rm -f`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from termagent.policy.calls import Call, Sink
from termagent.policy.exec_checks import SHELLS

VERB_WINDOW = 5  # sub-command words looked at: `az storage blob delete`, `gcloud compute instances delete`


@dataclass(frozen=True)
class Deletion:
    verbs: tuple[str, ...]  # glob patterns over one sub-command word
    needs: tuple[str, ...] = ()  # at least one of these options must be present ("" part of a cluster: "-f")
    context: tuple[str, ...] = ()  # an earlier sub-command word that must be present (`volume rm`)


def _d(*verbs: str, needs: tuple[str, ...] = (), context: tuple[str, ...] = ()) -> Deletion:
    return Deletion(verbs, needs, context)


_ANY_DELETE = _d("delete", "delete-*", "destroy", "purge", "purge-*")
DELETIONS: dict[str, tuple[Deletion, ...]] = {
    "aws": (_d("rm", "rb", "delete-*", "terminate-*", "remove-*", "deregister-*", "purge-*", "cancel-*",
               "disable-key", "schedule-key-deletion", "reset-*"),),
    "gsutil": (_d("rm", "rb"), _d("rsync", needs=("-d",))),
    "gcloud": (_d("delete", "rm", "reset", "purge"),),
    "az": (_d("delete", "delete-*", "purge", "remove", "rm", "reset"),),
    "doctl": (_d("delete", "rm", "destroy", "purge"),),
    "terraform": (_d("destroy"), _d("apply", needs=("-destroy", "--destroy")), _d("rm", context=("state",))),
    "tofu": (_d("destroy"), _d("apply", needs=("-destroy", "--destroy")), _d("rm", context=("state",))),
    "terragrunt": (_d("destroy", "run-all"), _d("apply", needs=("-destroy", "--destroy"))),
    "pulumi": (_d("destroy"), _d("rm", context=("stack",)), _d("up", needs=("--destroy",))),
    "cdk": (_d("destroy"),),
    "kubectl": (_d("delete", "drain"),),
    "oc": (_d("delete", "drain"),),
    "helm": (_d("uninstall", "delete", "del", "un"),),
    "eksctl": (_ANY_DELETE,),
    "heroku": (_d("destroy", "apps:destroy", "pg:reset", "pg:killall", "*:destroy", "*:delete", "*:remove"),),
    "flyctl": (_ANY_DELETE, _d("destroy", "remove", "rm")),
    "fly": (_ANY_DELETE, _d("destroy", "remove", "rm")),
    "firebase": (_d("*:delete", "*:destroy", "database:remove"),),
    "gh": (_d("delete"),),
    "vercel": (_d("rm", "remove"),),
    "docker": (_d("prune"), _d("rm", context=("volume",)), _d("rm", "rmi", needs=("-f", "--force", "-v", "--volumes")),
               _d("down", needs=("-v", "--volumes", "--rmi"))),
    "podman": (_d("prune", "reset"), _d("rm", context=("volume",)), _d("rm", "rmi", needs=("-f", "--force", "-v"))),
    "docker-compose": (_d("down", needs=("-v", "--volumes", "--rmi")), _d("rm", needs=("-f", "--force", "-v"))),
    "nomad": (_d("stop", needs=("-purge",)), _d("delete")),
    "vault": (_d("delete", "destroy", "disable"),),
}
_SSH_VALUED = "BbcDEeFIiJLlmOoPpQRSWw"
_SSH_LOCAL_EXEC = ("proxycommand", "localcommand", "knownhostscommand", "permitlocalcommand", "match")


def check_deletion(call: Call, sink: Sink) -> None:
    """`aws s3 rb --force`, `terraform destroy`, `kubectl delete`: cloud state lost for good."""
    rules = DELETIONS.get(call.name, ())
    if not rules:
        return
    words = [word.value for word in call.args]
    verbs = [value for value in words if not value.startswith("-")][:VERB_WINDOW]
    for rule in rules:
        if rule.context and not set(rule.context) & set(verbs):
            continue
        verb = next((v for v in verbs if any(fnmatch.fnmatchcase(v, p) for p in rule.verbs)), None)
        if verb is None or (rule.needs and not _has_option(words, rule.needs)):
            continue
        sink.destructive(f"{call.name} {verb} deletes cloud or cluster resources")
        return


def _has_option(words: list[str], wanted: tuple[str, ...]) -> bool:
    for value in words:
        if value.partition("=")[0] in wanted:
            return True
        short = value.startswith("-") and not value.startswith("--")
        if short and any(len(w) == 2 and w[1] in value[1:] for w in wanted if not w.startswith("--")):
            return True
    return False


def check_ssh(call: Call, sink: Sink) -> None:
    """The words after the host are one command line for the remote shell: classify it as local."""
    args = call.args
    index = 0
    while index < len(args):
        word = args[index]
        value = word.value
        if value == "--":
            index += 1
            break
        if not value.startswith("-") or word.dynamic:
            break
        index += 1
        for pos, char in enumerate(value[1:], start=1):
            if char in _SSH_VALUED:
                option = value[pos + 1:] or (args[index].value if index < len(args) else "")
                index += 0 if value[pos + 1:] else 1
                _ssh_option(char, option, sink)
                break
    remote = args[index + 1:]
    if not remote:
        if index < len(args) and call.stdin_from_command():
            sink.destructive(f"pipes data into a remote shell ({call.name})")
        return
    text = " ".join(word.value for word in remote)
    if call.stdin_from_command() and remote[0].value in SHELLS:
        sink.destructive(f"pipes data into a remote shell ({call.name} {remote[0].value})")
    sink.script(text, any(word.dynamic for word in remote), f"{call.name} remote command")


def _ssh_option(char: str, option: str, sink: Sink) -> None:
    if char == "o" and option.lower().replace(" ", "").startswith(_SSH_LOCAL_EXEC):
        sink.unknown(f"ssh -o {option.split('=')[0]} runs a local command")
    elif char == "F":
        sink.unknown("ssh -F uses a config file that can run local commands")
