"""The fixed choice lists of the command line and the configs. They live in this leaf, free of torch and
onnxruntime, so that ``eeea --help`` and every argument error answer before any heavy import; the modules that act
on a choice import its list from here."""
from __future__ import annotations

#: ``eeea export --format``
EXPORT_FORMATS = ("onnx", "onnx-int8", "torchscript")
#: ``eeea export --quantization``: auto keeps the fastest int8 file that passes the check (or says fp32 is faster)
QUANTIZATIONS = ("auto", "static", "dynamic")
#: autocast choices: auto = bf16 on CUDA, off on the CPU (fp16 would need loss scaling; bf16 does not)
AMP = ("auto", "bf16", "none")
#: ``--eepi-scope``: screen the initial population only, or offspring too
EEPI_SCOPES = ("init", "all")
#: output formats of the tables the CLI prints
TABLE_FORMATS = ("text", "markdown", "csv")
