"""`make mutate SINCE=<commit>` mutates only what a change touched: a diff's hunks are mapped to
the functions and methods (mutmut's names) that hold them, in the old source for removed lines
and in the new one for added lines, and each becomes mutmut name patterns. A fake diff, no git
and no mutmut run."""

from __future__ import annotations

import fnmatch
import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "mutate_driver", Path(__file__).parent / "mutation" / "mutate.py"
)
assert _spec is not None and _spec.loader is not None
mutate = importlib.util.module_from_spec(_spec)
sys.modules["mutate_driver"] = mutate
_spec.loader.exec_module(mutate)

OLD = """\
LIMIT = 3


def first(a):
    return a + 1


def gone(b):
    return b


class Box:
    size = 2

    def put(self, x):
        if x:
            return 1
        return 2

    @property
    def full(self):
        return True

    @staticmethod
    def make():
        def inner():
            return 5

        return inner()
"""

NEW = """\
LIMIT = 4


def first(a):
    return a + 2


class Box:
    size = 2

    def put(self, x):
        return 2

    @property
    def full(self):
        return False

    @staticmethod
    def make():
        def inner():
            return 6

        return inner()


def added(c):
    return c
"""

# what `git diff -U0` says between OLD and NEW (as mockserver/box.py)
DIFF = """\
diff --git a/mockserver/box.py b/mockserver/box.py
index 1111111..2222222 100644
--- a/mockserver/box.py
+++ b/mockserver/box.py
@@ -1 +1 @@
-LIMIT = 3
+LIMIT = 4
@@ -5 +5 @@ def first(a):
-    return a + 1
+    return a + 2
@@ -8,4 +7,0 @@ def first(a):
-def gone(b):
-    return b
-
-
@@ -16,2 +11,0 @@ class Box:
-        if x:
-            return 1
@@ -22 +16 @@ class Box:
-        return True
+        return False
@@ -27 +21 @@ class Box:
-            return 5
+            return 6
@@ -29,0 +24,4 @@ class Box:
+
+
+def added(c):
+    return c
diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -3 +3 @@
-old
+new
diff --git a/mockserver/old_name.py b/mockserver/new_name.py
similarity index 90%
rename from mockserver/old_name.py
rename to mockserver/new_name.py
--- a/mockserver/old_name.py
+++ b/mockserver/new_name.py
@@ -2 +2 @@ def kept():
-    return 1
+    return 2
diff --git a/mockserver/dropped.py b/mockserver/dropped.py
deleted file mode 100644
--- a/mockserver/dropped.py
+++ /dev/null
@@ -1,2 +0,0 @@
-def dropped():
-    return 1
"""

SOURCES_NEW = {
    "mockserver/box.py": NEW,
    "mockserver/new_name.py": "def kept():\n    return 2\n",
    "README.md": "new\n",
}
SOURCES_OLD = {
    "mockserver/box.py": OLD,
    "mockserver/old_name.py": "def kept():\n    return 1\n",
    "mockserver/dropped.py": "def dropped():\n    return 1\n",
}


def test_a_diffs_hunks_give_the_lines_removed_and_added_per_file() -> None:
    found = mutate.diff_lines(DIFF)
    assert found["mockserver/box.py"] == (
        "mockserver/box.py",
        {1, 5, 8, 9, 10, 11, 16, 17, 22, 27},
        {1, 5, 16, 21, 24, 25, 26, 27},
    )
    assert found["mockserver/new_name.py"] == ("mockserver/old_name.py", {2}, {2})
    assert "mockserver/dropped.py" not in found, "a deleted file has nothing left to mutate"


def test_a_new_file_has_only_added_lines() -> None:
    diff = (
        "--- /dev/null\n+++ b/sora_client/fresh.py\n@@ -0,0 +1,3 @@\n"
        "+def fresh():\n+    return 1\n+\n"
    )
    assert mutate.diff_lines(diff) == {"sora_client/fresh.py": (None, set(), {1, 2, 3})}
    changed = mutate.changed_functions(
        diff, lambda p: None, lambda p: "def fresh():\n    return 1\n"
    )
    assert changed == {"sora_client/fresh.py": ["x_fresh"]}


def test_changed_lines_map_to_the_functions_and_methods_mutmut_mutates() -> None:
    changed = mutate.changed_functions(DIFF, SOURCES_OLD.get, SOURCES_NEW.get)
    assert changed == {
        # first: a line changed; Box.put: lines only removed (found in the old source);
        # Box.make: a line of its nested function; added: a new function. Not there: the
        # LIMIT constant (outside every function), `gone` (removed whole: no mutant left),
        # the property (mutmut does not mutate decorated functions), README (not Python)
        "mockserver/box.py": ["x_first", "xǁBoxǁput", "xǁBoxǁmake", "x_added"],
        # a renamed file: its old lines are looked up under its old name
        "mockserver/new_name.py": ["x_kept"],
    }


def test_function_spans_start_at_the_decorators_and_say_what_mutmut_skips() -> None:
    spans = mutate.function_spans(OLD)
    assert spans["x_first"] == (4, 5, True)
    assert spans["xǁBoxǁput"] == (15, 18, True)
    assert spans["xǁBoxǁfull"] == (20, 22, False)
    assert spans["xǁBoxǁmake"] == (24, 29, True)
    assert mutate.functions_at(OLD, {13}) == set(), "a class attribute is no function's"
    assert mutate.functions_at(OLD, {24}) == {"xǁBoxǁmake"}, "a decorator line is its function's"
    classmethod_too = "class A:\n    @classmethod\n    def f(cls):\n        return 1\n"
    assert mutate.function_spans(classmethod_too) == {"xǁAǁf": (2, 4, True)}
    two = "import functools\n\n\n@functools.cache\ndef f():\n    return 1\n"
    assert mutate.function_spans(two) == {"x_f": (4, 6, False)}


def test_patterns_pick_a_functions_mutants_and_its_tests_but_no_other_function() -> None:
    patterns = mutate.patterns_for("sora_client/_core.py", ["xǁCoreǁ_wait", "x__forward"])

    def picked(name: str) -> bool:
        return any(fnmatch.fnmatch(name, p) for p in patterns)

    # mutants (what mutmut runs) and the functions themselves (how mutmut picks the tests)
    assert picked("sora_client._core.xǁCoreǁ_wait__mutmut_12")
    assert picked("sora_client._core.x__forward__mutmut_1")
    assert picked("sora_client._core.xǁCoreǁ_wait")
    assert picked("sora_client._core.x__forward")
    # not a function whose name merely starts the same, nor another module's
    assert not picked("sora_client._core.xǁCoreǁ_wait_chat__mutmut_3")
    assert not picked("sora_client._core.xǁCoreǁ_wait_chat")
    assert not picked("sora_client._client.x__forward__mutmut_1")
    # every pattern has a `*`: mutmut reads a name without one as a mutant's own name
    assert all("*" in p for p in patterns)


def test_a_run_mutmut_crashed_on_fails_whatever_its_old_figures_say() -> None:
    """mutmut exits 0 whatever survives; a crash (an assertion on a bad pattern) left the
    earlier run's results, and the command said success."""
    good = {"mutmut_exit_code": 0, "score": 1.0}
    assert mutate.outcome([good]) == 0
    assert mutate.outcome([{"mutmut_exit_code": None, "score": 0.9}]) == 0  # --report
    assert mutate.outcome([good, {"mutmut_exit_code": 1, "score": 1.0}]) == 1
    assert mutate.outcome([{"mutmut_exit_code": 0, "score": mutate.TARGET - 0.01}]) == 1
    assert mutate.outcome([{"mutmut_exit_code": 0, "score": None}]) == 1
    assert mutate.crashed({"mutmut_exit_code": -9}) is True
