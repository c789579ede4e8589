"""`redact` on the text shapes its fast paths split: ASCII, other scripts, and a name whose
letters only a case-blind match finds (the Kelvin sign upper-cases to itself, not to K)."""

import pytest

from termagent.policy.secrets import redact

VALUE = "hunter2-canary-pw"


@pytest.mark.parametrize("line", [
    f"DB_PASSWORD={VALUE}",
    f"db_password = {VALUE}",
    f"export Api_Key='{VALUE}'",
    f"     3\tgithub_token: {VALUE}",
    f"src/settings.py:12:SECRET_KEY = \"{VALUE}\"",
    f"# café\nclient_secret={VALUE}",
    f"TO\u212aEN={VALUE}",
])
def test_a_secret_assignment_loses_its_value_in_any_case_and_script(line):
    redacted, count = redact(line)
    assert VALUE not in redacted and "[REDACTED secret]" in redacted and count == 1


@pytest.mark.parametrize("text", [
    "".join(f"{n + 1:6}\tline_{n} = {n}\n" for n in range(300)),
    "token = tokenizer.next()\npassword_field = form.get(name)\n",
    "naïve = résumé(\"🐍\")\n",
])
def test_ordinary_text_comes_back_unchanged(text):
    assert redact(text) == (text, 0)
