/* tests/unit/test_frontend_parse.c: the Python-subset parser (frontend/parser.y, lexer.l): AST
 * dumps of PyTorch-style modules, operator precedence, and syntax errors with exact positions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"
#include "testlib.h"

/* Parses src; returns its dump (malloc'd) or NULL on error, leaving messages in *diag. */
static char *parse_dump(const char *src, ct_diag *diag) {
  ct_arena *a = ct_arena_new();
  ct_py_module *m = NULL;
  ct_status st = ct_py_parse(src, strlen(src), "m.py", a, &m, diag);
  char *text = NULL;
  if (st == CT_OK && m) {
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    ct_py_dump(m, f);
    fclose(f);
  }
  ct_arena_free(a);
  return text;
}

/* Parses src, which must succeed, and compares its dump with want. */
static void check_dump(const char *src, const char *want) {
  ct_diag d;
  ct_diag_init(&d);
  char *got = parse_dump(src, &d);
  CHECK_MSG(got != NULL, "parse failed: %s (line %d col %d)", ct_diag_first_error(&d),
            d.n ? d.items[0].line : 0, d.n ? d.items[0].col : 0);
  if (got) CHECK_STR_EQ(got, want);
  free(got);
  ct_diag_free(&d);
}

/* Dump of the single expression statement src. */
static void check_expr(const char *src, const char *want) {
  char buf[512];
  snprintf(buf, sizeof buf, "(expr %s)\n", want);
  check_dump(src, buf);
}

/* Parses src, which must fail; the i-th error must be at line:col with message msg. */
static void check_error(const char *src, int i, int line, int col, const char *msg) {
  ct_diag d;
  ct_diag_init(&d);
  char *got = parse_dump(src, &d);
  CHECK(got == NULL);
  free(got);
  CHECK_MSG(d.n > i, "expected at least %d messages, got %d", i + 1, d.n);
  if (d.n > i) {
    CHECK_STR_EQ(d.items[i].file, "m.py");
    CHECK_EQ_INT(d.items[i].line, line);
    CHECK_EQ_INT(d.items[i].col, col);
    CHECK_STR_EQ(d.items[i].msg, msg);
  }
  ct_diag_free(&d);
}

static void test_mlp(void) {
  check_dump("import torch\n"
             "import torch.nn as nn\n"
             "from torch.nn import functional as F, Module\n"
             "\n"
             "class MLP(nn.Module):\n"
             "    \"\"\"A two-layer perceptron.\n"
             "    Second line.\"\"\"\n"
             "    def __init__(self, d_in: int, hidden=64, *args, **kwargs) -> None:\n"
             "        super().__init__()  # the usual\n"
             "        self.fc1 = nn.Linear(d_in, hidden)\n"
             "        self.fc2 = nn.Linear(hidden, 10, bias=False)\n"
             "\n"
             "    def forward(self, x):\n"
             "        x = F.relu(self.fc1(x))\n"
             "        return self.fc2(x)\n",
             "(import torch)\n"
             "(import (torch.nn as nn))\n"
             "(from torch.nn import (functional as F) Module)\n"
             "(class MLP (bases nn.Module)\n"
             "  (expr \"A two-layer perceptron.\\n    Second line.\")\n"
             "  (def __init__ (params self (d_in : int) (hidden = 64) *args **kwargs) (-> None)\n"
             "    (expr (call (attr (call super) __init__)))\n"
             "    (= self.fc1 (call nn.Linear d_in hidden))\n"
             "    (= self.fc2 (call nn.Linear hidden 10 (bias = False))))\n"
             "  (def forward (params self x)\n"
             "    (= x (call F.relu (call self.fc1 x)))\n"
             "    (return (call self.fc2 x))))\n");
}

static void test_cnn_sequential(void) {
  check_dump("class CNN(nn.Module):\n"
             "  def __init__(self):\n"
             "    super().__init__()\n"
             "    self.features = nn.Sequential(\n"
             "        nn.Conv2d(1, 6, kernel_size=5, padding=2),  # comment inside\n"
             "\n"
             "        nn.ReLU(),\n"
             "      nn.MaxPool2d(2),\n"
             "    )\n"
             "  def forward(self, x):\n"
             "    x = self.features(x)\n"
             "    x = x.view(x.size(0), -1)\n"
             "    return x[:, 1:3, ::2, ...]\n",
             "(class CNN (bases nn.Module)\n"
             "  (def __init__ (params self)\n"
             "    (expr (call (attr (call super) __init__)))\n"
             "    (= self.features (call nn.Sequential (call nn.Conv2d 1 6 (kernel_size = 5) "
             "(padding = 2)) (call nn.ReLU) (call nn.MaxPool2d 2))))\n"
             "  (def forward (params self x)\n"
             "    (= x (call self.features x))\n"
             "    (= x (call x.view (call x.size 0) (- 1)))\n"
             "    (return (sub x (tuple (slice _ _ _) (slice 1 3 _) (slice _ _ 2) ...)))))\n");
}

static void test_module_list(void) {
  check_dump("class Deep(nn.Module):\n"
             "    def __init__(self, n=3):\n"
             "        self.layers = nn.ModuleList([nn.Linear(4, 4) for i in range(3)])\n"
             "        self.odd = [i * 2 for i in range(n) if i % 2]\n"
             "    def forward(self, x):\n"
             "        for i, layer in enumerate(self.layers):\n"
             "            if i == 0:\n"
             "                x = layer(x)\n"
             "            elif i > 1:\n"
             "                x += layer(x)\n"
             "            else:\n"
             "                pass\n"
             "        while x is not None and not done: break\n"
             "        return x\n",
             "(class Deep (bases nn.Module)\n"
             "  (def __init__ (params self (n = 3))\n"
             "    (= self.layers (call nn.ModuleList (listcomp (call nn.Linear 4 4) "
             "(for i (call range 3)))))\n"
             "    (= self.odd (listcomp (* i 2) (for i (call range n) (if (% i 2))))))\n"
             "  (def forward (params self x)\n"
             "    (for (tuple i layer) (call enumerate self.layers)\n"
             "      (if (compare i == 0)\n"
             "        (= x (call layer x))\n"
             "        (else\n"
             "          (if (compare i > 1)\n"
             "            (+= x (call layer x))\n"
             "            (else\n"
             "              (pass))))))\n"
             "    (while (and (compare x is not None) (not done))\n"
             "      (break))\n"
             "    (return x)))\n");
}

static void test_precedence(void) {
  check_expr("a + b * c ** -d @ e\n", "(+ a (@ (* b (** c (- d))) e))");
  check_expr("x if c else y\n", "(ifexp c x y)");
  check_expr("a < b < c\n", "(compare a < b < c)");
  check_expr("(a < b) < c\n", "(compare (compare a < b) < c)");
  check_expr("-x ** 2\n", "(- (** x 2))");
  check_expr("a or b and not c\n", "(or a (and b (not c)))");
  check_expr("a | b ^ c & d << 1 >> 2\n", "(| a (^ b (& c (>> (<< d 1) 2))))");
  check_expr("a - b - c\n", "(- (- a b) c)");
  check_expr("a not in b\n", "(compare a not in b)");
  check_expr("2 ** 3 ** 2\n", "(** 2 (** 3 2))");
  check_expr("f(*args, k=1, **kw)\n", "(call f (* args) (k = 1) (** kw))");
  check_expr("'ab' \"cd\"\n", "\"abcd\"");
  check_expr("[1, 2.5, True, None, 0x1f, 1_000]\n", "(list 1 2.5 True None 31 1000)");
  check_expr("(1,)\n", "(tuple 1)");
}

static void test_statements(void) {
  check_dump("a, b = b, a\n"
             "x = y = 0\n"
             "n: int = 3\n"
             "t = 1, 2,\n"
             "y = 1 + \\\n"
             "    2\n"
             "assert x, 'msg'\n"
             "raise ValueError('bad'); pass\n"
             "@torch.no_grad()\n"
             "def f(a, *, b=2): return (a, b)\n",
             "(= (tuple a b) (tuple b a))\n"
             "(= x y 0)\n"
             "(: n int 3)\n"
             "(= t (tuple 1 2))\n"
             "(= y (+ 1 2))\n"
             "(assert x \"msg\")\n"
             "(raise (call ValueError \"bad\"))\n"
             "(pass)\n"
             "(def f (params a * (b = 2)) (decorators (call torch.no_grad))\n"
             "  (return (tuple a b)))\n");
}

static void test_errors(void) {
  check_error("if x:\n    a = 1\n  b = 2\n", 0, 3, 3,
              "unindent does not match any outer indentation level");
  check_error("x = = 1\n", 0, 1, 5, "syntax error: unexpected '='");
  check_error("x = 1\ny = foo bar\n", 0, 2, 9, "syntax error: unexpected identifier 'bar'");
  check_error("s = 'abc\n", 0, 1, 5, "unterminated string literal");
  check_error("x = f(1,\n  2\n", 0, 1, 6, "'(' was never closed");
  check_error("x = )\ny = 1\nz = (]\n", 0, 1, 5, "syntax error: unexpected ')'");
  check_error("x = )\ny = 1\nz = 1 +\n", 1, 3, 8, "syntax error: unexpected newline");
  check_error("def f(:\n    pass\n", 0, 1, 7, "syntax error: unexpected ':'");
  check_error("s = \"\"\"abc\n\ndef", 0, 1, 5, "unterminated triple-quoted string literal");
  check_error("x = {1}\n", 0, 1, 5, "syntax error: unexpected '{'");
  check_error("class A:\nx = 1\n", 0, 2, 1,
              "syntax error: unexpected identifier 'x', expected indent");
  check_error("y = lambda x: x\n", 0, 1, 5, "unsupported Python feature: lambda expression");
}

/* Recovery: each broken statement is reported once, and parsing goes on after it. */
static void test_error_recovery(void) {
  const char *src = "x = 1\n"
                    "    y = 2\n"
                    "z = )\n";
  check_error(src, 0, 2, 5, "unexpected indent");
  check_error(src, 1, 3, 5, "syntax error: unexpected ')'");
  /* the body of a broken header is not reported again */
  src = "class A(:)\n"
        "    x = 1\n"
        "    y = )\n"
        "z = 1 +\n";
  check_error(src, 0, 1, 9, "syntax error: unexpected ':'");
  check_error(src, 1, 3, 9, "syntax error: unexpected ')'");
  check_error(src, 2, 4, 8, "syntax error: unexpected newline");
  ct_diag d;
  ct_diag_init(&d);
  char *got = parse_dump(src, &d);
  CHECK(got == NULL);
  CHECK_EQ_INT(d.n_errors, 3);
  free(got);
  ct_diag_free(&d);
}

static void test_layout(void) {
  check_dump("", "");
  check_dump("# only a comment", "");
  check_dump("x", "(expr x)\n");
  check_dump("if a:\n\tif b:\n\t\tc\nd\r\n", "(if a\n  (if b\n    (expr c)))\n(expr d)\n");
  check_dump("@dec\nclass A(B, metaclass=M): pass\n",
             "(class A (bases B (metaclass = M)) (decorators dec)\n  (pass))\n");
  check_dump("from m import (a,\n  b as c,)\nfrom n import *\n",
             "(from m import a (b as c))\n(from n import *)\n");
}

int main(void) {
  RUN_TEST(test_mlp);
  RUN_TEST(test_cnn_sequential);
  RUN_TEST(test_module_list);
  RUN_TEST(test_precedence);
  RUN_TEST(test_statements);
  RUN_TEST(test_errors);
  RUN_TEST(test_error_recovery);
  RUN_TEST(test_layout);
  return test_summary();
}
