"""``python -m tierconf.rules``: print docs/rules.md."""

import sys

from tierconf.rules import rules_reference

sys.stdout.write(rules_reference())
