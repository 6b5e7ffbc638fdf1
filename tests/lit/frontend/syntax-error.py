# Syntax errors: each reported at its token with what was expected, the parser recovering at
# the next statement; an unclosed bracket at the bracket.
# RUN: not ctorchc -O0 %s --input x=f32[N,4] 2>&1 | %FileCheck %s --implicit-check-not=error:
import torch.nn as nn


class M(nn.Module)
    def forward(self, x):
        return x +

    def other(self):
        y = (1, 2
# CHECK: {{.*}}syntax-error.py:7:19: error: syntax error: unexpected newline, expected ':'
# CHECK: {{.*}}syntax-error.py:9:19: error: syntax error: unexpected newline
# CHECK: {{.*}}syntax-error.py:12:13: error: '(' was never closed
