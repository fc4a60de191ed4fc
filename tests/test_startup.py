"""The command line answers parse-time requests (help, version, every argument error) without importing torch or
onnxruntime: each verb imports its machinery only when it runs.

The checks run in fresh interpreters (this test process has torch loaded already) and walk the parser itself, so a
verb, flag or flag type added later is covered without editing this file.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

#: modules that take seconds to import on a small CPU; none of them may load before a verb runs
HEAVY = ("torch", "onnxruntime", "ray", "pymoo", "scipy", "sklearn", "optuna", "torchvision", "torchaudio")

#: a fresh interpreter runs argv lists through ``eeea.cli.main`` (or, with ``parse``, only through its parser, so
#: that a value a flag's type accepts never starts the verb) and reports which heavy modules each loaded
_PROBE = textwrap.dedent("""
    import contextlib, io, json, sys
    heavy, cases, parse = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3] == "parse"
    from eeea.cli import build_parser, main
    from eeea.errors import UserError
    report = []
    for argv in cases:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv) if not parse else build_parser().parse_args(argv) and 0
            except UserError as e:
                code = 2
                print(f"eeea: error: {e}", file=sys.stderr)
            except SystemExit as e:
                code = e.code
        report.append({"argv": argv, "code": code, "err": err.getvalue(), "out": out.getvalue()[:200],
                       "heavy": [m for m in heavy if m in sys.modules]})
    print(json.dumps(report))
""")


def probe(cases: list[list[str]], parse_only: bool = False) -> list[dict]:
    """Each case's exit code, output and the heavy modules loaded once it ran, in one fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(HEAVY), json.dumps(cases),
                           "parse" if parse_only else "main"], capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def _bad_value_cases() -> list[list[str]]:
    """``VERB --help``, ``VERB --no-such-flag`` and, for every flag that converts or restricts its value, the flag
    with a value no parser accepts, for every verb of the parser as it stands."""
    import argparse

    from eeea.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    cases: list[list[str]] = []
    for verb, verb_parser in sub.choices.items():
        cases += [[verb, "--help"], [verb, "--no-such-flag"]]
        for action in verb_parser._actions:
            if action.option_strings and (action.type is not None or action.choices is not None) and action.nargs != 0:
                cases.append([verb, action.option_strings[0], "!!not-a-value!!"])
    return cases


def test_help_version_and_a_bad_flag_import_neither_torch_nor_onnxruntime():
    for entry in probe([["--help"]]) + probe([["--version"]]) + probe([["search", "--max-params", "abc"]]):
        assert entry["heavy"] == [], f"eeea {' '.join(entry['argv'])} imported {entry['heavy']}"
    help_, version, bad, bare, verb = probe([["--help"], ["--version"], ["search", "--max-params", "abc"], [],
                                             ["no-such-verb"]])
    assert help_["code"] == 0 and "usage: eeea" in help_["out"]
    assert version["code"] == 0 and version["out"].startswith("eeea ")
    assert bad["code"] == 2 and bad["err"].startswith("eeea: error: --max-params") and "Traceback" not in bad["err"]
    assert bare["code"] == 2 and verb["code"] == 2 and verb["err"].startswith("eeea: error:")


def test_every_verbs_help_and_argument_errors_stay_light():
    cases = _bad_value_cases()
    assert len(cases) > 40  # the walk found the verbs and their typed flags
    report = probe(cases, parse_only=True)
    for entry in report:
        assert entry["heavy"] == [], f"eeea {' '.join(entry['argv'])} imported {entry['heavy']} at parse time"
        assert "Traceback" not in entry["err"], entry
    errors = [e for e in report if e["argv"][1] == "--no-such-flag"]
    assert errors and all(e["code"] == 2 and e["err"].startswith("eeea: error: ") for e in errors)


def test_the_console_script_module_and_package_import_stay_light():
    code = ("import sys, eeea, eeea.cli; print(eeea.__version__); "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[1] == "[]"


def test_the_public_names_load_on_first_use():
    import eeea
    from eeea import create_model, load_checkpoint

    assert callable(create_model) and callable(load_checkpoint) and "create_model" in dir(eeea)
    assert set(eeea.__all__) <= set(dir(eeea))
    try:
        eeea.no_such_name
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("eeea.no_such_name did not raise AttributeError")
