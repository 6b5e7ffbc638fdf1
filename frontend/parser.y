/* frontend/parser.y: the Python-subset grammar (bison, pure, with locations). Tokens come from
 * lexer.l; the actions build the arena AST of ast.h. One nonterminal per Python precedence
 * level; errors recover at statement level so several are reported in one run. */
%define api.pure full
%define api.prefix {pyy}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {void *scanner}
%parse-param {ct_py_state *st}

%code requires {
#include "frontend.h"
}

%code provides {
int pyylex(PYYSTYPE *val, PYYLTYPE *loc, void *scanner);
int pyyparse(void *scanner, ct_py_state *st);
}

%code {
#include <string.h>

#define A (st->arena)

static ct_py_expr *mk(ct_py_state *st, ct_py_expr_kind k, PYYLTYPE loc) {
  return ct_py_expr_new(st->arena, k, loc.first_line, loc.first_column);
}
static ct_py_stmt *mks(ct_py_state *st, ct_py_stmt_kind k, PYYLTYPE loc) {
  return ct_py_stmt_new(st->arena, k, loc.first_line, loc.first_column);
}
static ct_py_expr *binary(ct_py_state *st, PYYLTYPE loc, ct_py_binop op, ct_py_expr *l,
                          ct_py_expr *r) {
  ct_py_expr *e = mk(st, CT_PY_BINARY, loc);
  e->u.binary.op = op;
  e->u.binary.lhs = l;
  e->u.binary.rhs = r;
  return e;
}
static ct_py_expr *unary(ct_py_state *st, PYYLTYPE loc, ct_py_unop op, ct_py_expr *x) {
  ct_py_expr *e = mk(st, CT_PY_UNARY, loc);
  e->u.unary.op = op;
  e->u.unary.operand = x;
  return e;
}
static ct_py_expr *boolop(ct_py_state *st, PYYLTYPE loc, ct_py_boolop op, ct_py_expr *l,
                          ct_py_expr *r) {
  ct_py_expr *e = mk(st, CT_PY_BOOLOP, loc);
  e->u.boolop.op = op;
  e->u.boolop.lhs = l;
  e->u.boolop.rhs = r;
  return e;
}
static ct_py_expr_list *list1(ct_py_state *st, ct_py_expr *e) {
  ct_py_expr_list *l = ct_arena_alloc(st->arena, sizeof *l);
  if (e) ct_py_expr_list_push(st->arena, l, e);
  return l;
}
/* A bare `a, b` (not parenthesized) becomes a tuple. */
static ct_py_expr *tuple(ct_py_state *st, PYYLTYPE loc, ct_py_expr_list *elts) {
  ct_py_expr *e = mk(st, CT_PY_TUPLE, loc);
  e->u.elts = *elts;
  return e;
}
static bool bare_tuple(const ct_py_expr *e) {
  return e->kind == CT_PY_TUPLE && !e->parenthesized;
}
/* Only bison's "memory exhausted" comes here; syntax errors go to yyreport_syntax_error. */
static void pyyerror(PYYLTYPE *loc, void *scanner, ct_py_state *st, const char *msg) {
  (void)scanner;
  ct_py_error(st, loc->first_line, loc->first_column, "%s", msg);
}
static ct_py_stmt_list *slist(ct_py_state *st) {
  return ct_arena_alloc(st->arena, sizeof(ct_py_stmt_list));
}
}

%union {
  const char *name;
  struct {
    const char *s;
    size_t len;
  } str;
  int64_t ival;
  double fval;
  int op;
  ct_py_expr *expr;
  ct_py_stmt *stmt;
  ct_py_expr_list *exprs;
  ct_py_stmt_list *stmts;
  ct_py_param param;
}

%token <name> NAME "identifier"
%token <ival> INT "integer literal"
%token <fval> FLOAT "float literal"
%token <str> STRING "string literal"
%token NEWLINE "newline" INDENT "indent" DEDENT "unindent"
%token <op> AUGASSIGN "augmented assignment"
%token POW "'**'" FLOORDIV "'//'" LSHIFT "'<<'" RSHIFT "'>>'" EQ "'=='" NE "'!='" LE "'<='"
%token GE "'>='" ARROW "'->'" ELLIPSIS "'...'"
%token KW_FALSE "'False'" KW_NONE "'None'" KW_TRUE "'True'" KW_AND "'and'" KW_AS "'as'"
%token KW_ASSERT "'assert'" KW_BREAK "'break'" KW_CLASS "'class'" KW_CONTINUE "'continue'"
%token KW_DEF "'def'" KW_ELIF "'elif'" KW_ELSE "'else'" KW_FOR "'for'" KW_FROM "'from'"
%token KW_IF "'if'" KW_IMPORT "'import'" KW_IN "'in'" KW_IS "'is'" KW_NOT "'not'" KW_OR "'or'"
%token KW_PASS "'pass'" KW_RAISE "'raise'" KW_RETURN "'return'" KW_WHILE "'while'"

%type <stmts> stmts stmt simple_stmts suite if_tail
%type <stmt> small_stmt assign_chain import_names from_names from_list params_list params
%type <stmt> compound_stmt funcdef classdef
%type <exprs> decorators test_seq expr_seq subscript_seq
%type <expr> test or_test and_test not_test comparison expr xor_expr and_expr shift_expr
%type <expr> arith_expr term factor power primary atom strings testlist exprlist
%type <expr> arglist args_opt subscript subscriptlist test_opt comp_for
%type <expr> ret_annot class_args annot_opt
%type <op> comp_op
%type <name> dotted_name
%type <param> param

%%

file_input
  : %empty                    { }
  | file_input NEWLINE        { }
  | file_input stmt           { ct_py_stmt_list_extend(A, &st->module->body, $2); }
  ;

stmts
  : stmt                      { $$ = $1; }
  | stmts stmt                { $$ = $1; ct_py_stmt_list_extend(A, $$, $2); }
  ;

stmt
  : simple_stmts NEWLINE      { $$ = $1; }
  | simple_stmts ';' NEWLINE  { $$ = $1; }
  | compound_stmt             { $$ = slist(st); ct_py_stmt_list_push(A, $$, $1); }
  | error NEWLINE {
      $$ = slist(st);
      st->error_stmt_end = st->n_tokens;
      yyerrok;
    }
    /* An over-indented block is reported once and parsed as if it were not indented; right
     * after a broken line it is that line's body, already covered by its message. */
  | INDENT {
      if (st->n_tokens != st->error_stmt_end + 1)
        ct_py_error(st, @1.first_line, @1.first_column, "unexpected indent");
    } stmts DEDENT { $$ = $3; }
  ;

simple_stmts
  : small_stmt                      { $$ = slist(st); ct_py_stmt_list_push(A, $$, $1); }
  | simple_stmts ';' small_stmt     { $$ = $1; ct_py_stmt_list_push(A, $$, $3); }
  ;

small_stmt
  : testlist {
      $$ = mks(st, CT_PY_EXPR_STMT, @1);
      $$->u.expr = $1;
    }
  | assign_chain              { $$ = $1; }
  | test ':' test annot_opt {
      $$ = mks(st, CT_PY_ASSIGN, @1);
      ct_py_expr_list_push(A, &$$->u.assign.targets, $1);
      $$->u.assign.annotation = $3;
      $$->u.assign.value = $4;
    }
  | testlist AUGASSIGN testlist {
      $$ = mks(st, CT_PY_AUGASSIGN, @1);
      $$->u.aug.op = (ct_py_binop)$2;
      $$->u.aug.target = $1;
      $$->u.aug.value = $3;
    }
  | KW_RETURN                 { $$ = mks(st, CT_PY_RETURN, @1); }
  | KW_RETURN testlist        { $$ = mks(st, CT_PY_RETURN, @1); $$->u.ret = $2; }
  | KW_PASS                   { $$ = mks(st, CT_PY_PASS, @1); }
  | KW_BREAK                  { $$ = mks(st, CT_PY_BREAK, @1); }
  | KW_CONTINUE               { $$ = mks(st, CT_PY_CONTINUE, @1); }
  | KW_RAISE                  { $$ = mks(st, CT_PY_RAISE, @1); }
  | KW_RAISE test             { $$ = mks(st, CT_PY_RAISE, @1); $$->u.raise.exc = $2; }
  | KW_ASSERT test {
      $$ = mks(st, CT_PY_ASSERT, @1);
      $$->u.assert_.test = $2;
    }
  | KW_ASSERT test ',' test {
      $$ = mks(st, CT_PY_ASSERT, @1);
      $$->u.assert_.test = $2;
      $$->u.assert_.msg = $4;
    }
  | KW_IMPORT import_names    { $$ = $2; $$->line = @1.first_line; $$->col = @1.first_column; }
  | KW_FROM dotted_name KW_IMPORT from_list {
      $$ = $4;
      $$->line = @1.first_line;
      $$->col = @1.first_column;
      $$->u.import.module = $2;
    }
  ;

annot_opt
  : %empty                    { $$ = NULL; }
  | '=' testlist              { $$ = $2; }
  ;

assign_chain
  : testlist '=' testlist {
      $$ = mks(st, CT_PY_ASSIGN, @1);
      ct_py_expr_list_push(A, &$$->u.assign.targets, $1);
      $$->u.assign.value = $3;
    }
  | assign_chain '=' testlist {
      $$ = $1;
      ct_py_expr_list_push(A, &$$->u.assign.targets, $$->u.assign.value);
      $$->u.assign.value = $3;
    }
  ;

dotted_name
  : NAME                      { $$ = $1; }
  | dotted_name '.' NAME {
      size_t a = strlen($1), b = strlen($3);
      char *s = ct_arena_alloc(A, a + b + 2);
      memcpy(s, $1, a);
      s[a] = '.';
      memcpy(s + a + 1, $3, b + 1);
      $$ = s;
    }
  ;

import_names
  : dotted_name {
      $$ = mks(st, CT_PY_IMPORT, @1);
      ct_py_alias_push(A, $$, (ct_py_alias){$1, NULL, @1.first_line, @1.first_column});
    }
  | dotted_name KW_AS NAME {
      $$ = mks(st, CT_PY_IMPORT, @1);
      ct_py_alias_push(A, $$, (ct_py_alias){$1, $3, @1.first_line, @1.first_column});
    }
  | import_names ',' dotted_name {
      $$ = $1;
      ct_py_alias_push(A, $$, (ct_py_alias){$3, NULL, @3.first_line, @3.first_column});
    }
  | import_names ',' dotted_name KW_AS NAME {
      $$ = $1;
      ct_py_alias_push(A, $$, (ct_py_alias){$3, $5, @3.first_line, @3.first_column});
    }
  ;

from_list
  : '*'                       { $$ = mks(st, CT_PY_FROM, @1); $$->u.import.star = true; }
  | from_names                { $$ = $1; }
  | from_names ','            { $$ = $1; }
  | '(' from_names ')'        { $$ = $2; }
  | '(' from_names ',' ')'    { $$ = $2; }
  ;

from_names
  : NAME {
      $$ = mks(st, CT_PY_FROM, @1);
      ct_py_alias_push(A, $$, (ct_py_alias){$1, NULL, @1.first_line, @1.first_column});
    }
  | NAME KW_AS NAME {
      $$ = mks(st, CT_PY_FROM, @1);
      ct_py_alias_push(A, $$, (ct_py_alias){$1, $3, @1.first_line, @1.first_column});
    }
  | from_names ',' NAME {
      $$ = $1;
      ct_py_alias_push(A, $$, (ct_py_alias){$3, NULL, @3.first_line, @3.first_column});
    }
  | from_names ',' NAME KW_AS NAME {
      $$ = $1;
      ct_py_alias_push(A, $$, (ct_py_alias){$3, $5, @3.first_line, @3.first_column});
    }
  ;

compound_stmt
  : KW_IF test ':' suite if_tail {
      $$ = mks(st, CT_PY_IF, @1);
      $$->u.if_.cond = $2;
      $$->u.if_.body = *$4;
      $$->u.if_.orelse = *$5;
    }
  | KW_WHILE test ':' suite {
      $$ = mks(st, CT_PY_WHILE, @1);
      $$->u.while_.cond = $2;
      $$->u.while_.body = *$4;
    }
  | KW_FOR exprlist KW_IN testlist ':' suite {
      $$ = mks(st, CT_PY_FOR, @1);
      $$->u.for_.target = $2;
      $$->u.for_.iter = $4;
      $$->u.for_.body = *$6;
    }
  | funcdef                   { $$ = $1; }
  | classdef                  { $$ = $1; }
  | decorators funcdef        { $$ = $2; $$->u.def.decorators = *$1; }
  | decorators classdef       { $$ = $2; $$->u.class_.decorators = *$1; }
  ;

if_tail
  : %empty                    { $$ = slist(st); }
  | KW_ELSE ':' suite         { $$ = $3; }
  | KW_ELIF test ':' suite if_tail {
      ct_py_stmt *s = mks(st, CT_PY_IF, @1);
      s->u.if_.cond = $2;
      s->u.if_.body = *$4;
      s->u.if_.orelse = *$5;
      $$ = slist(st);
      ct_py_stmt_list_push(A, $$, s);
    }
  ;

suite
  : simple_stmts NEWLINE              { $$ = $1; }
  | simple_stmts ';' NEWLINE          { $$ = $1; }
  | NEWLINE INDENT stmts DEDENT       { $$ = $3; }
  ;

decorators
  : '@' test NEWLINE                  { $$ = list1(st, $2); }
  | decorators '@' test NEWLINE       { $$ = $1; ct_py_expr_list_push(A, $$, $3); }
  ;

funcdef
  : KW_DEF NAME '(' params ')' ret_annot ':' suite {
      $$ = $4;
      $$->line = @1.first_line;
      $$->col = @1.first_column;
      $$->u.def.name = $2;
      $$->u.def.returns = $6;
      $$->u.def.body = *$8;
    }
  ;

ret_annot
  : %empty                    { $$ = NULL; }
  | ARROW test                { $$ = $2; }
  ;

params
  : %empty                    { $$ = mks(st, CT_PY_DEF, @$); }
  | params_list               { $$ = $1; }
  | params_list ','           { $$ = $1; }
  ;

params_list
  : param                     { $$ = mks(st, CT_PY_DEF, @1); ct_py_param_push(A, $$, $1); }
  | params_list ',' param     { $$ = $1; ct_py_param_push(A, $$, $3); }
  ;

param
  : NAME {
      $$ = (ct_py_param){CT_PY_PARAM_NORMAL, $1, NULL, NULL, @1.first_line, @1.first_column};
    }
  | NAME ':' test {
      $$ = (ct_py_param){CT_PY_PARAM_NORMAL, $1, $3, NULL, @1.first_line, @1.first_column};
    }
  | NAME '=' test {
      $$ = (ct_py_param){CT_PY_PARAM_NORMAL, $1, NULL, $3, @1.first_line, @1.first_column};
    }
  | NAME ':' test '=' test {
      $$ = (ct_py_param){CT_PY_PARAM_NORMAL, $1, $3, $5, @1.first_line, @1.first_column};
    }
  | '*' {
      $$ = (ct_py_param){CT_PY_PARAM_STAR, NULL, NULL, NULL, @1.first_line, @1.first_column};
    }
  | '*' NAME {
      $$ = (ct_py_param){CT_PY_PARAM_VARARGS, $2, NULL, NULL, @1.first_line, @1.first_column};
    }
  | '*' NAME ':' test {
      $$ = (ct_py_param){CT_PY_PARAM_VARARGS, $2, $4, NULL, @1.first_line, @1.first_column};
    }
  | POW NAME {
      $$ = (ct_py_param){CT_PY_PARAM_KWARGS, $2, NULL, NULL, @1.first_line, @1.first_column};
    }
  | POW NAME ':' test {
      $$ = (ct_py_param){CT_PY_PARAM_KWARGS, $2, $4, NULL, @1.first_line, @1.first_column};
    }
  ;

classdef
  : KW_CLASS NAME class_args ':' suite {
      $$ = mks(st, CT_PY_CLASS, @1);
      $$->u.class_.name = $2;
      if ($3) {
        $$->u.class_.bases = $3->u.call.args;
        $$->u.class_.keywords = $3->u.call.kwargs;
      }
      $$->u.class_.body = *$5;
    }
  ;

class_args
  : %empty                    { $$ = NULL; }
  | '(' args_opt ')'          { $$ = $2; }
  ;

/* ---- expressions, loosest first ---------------------------------------------------------- */

testlist
  : test                      { $$ = $1; }
  | test_seq                  { $$ = tuple(st, @1, $1); }
  | test_seq test             { ct_py_expr_list_push(A, $1, $2); $$ = tuple(st, @1, $1); }
  ;

test_seq
  : test ','                  { $$ = list1(st, $1); }
  | test_seq test ','         { $$ = $1; ct_py_expr_list_push(A, $$, $2); }
  ;

/* Loop targets stop below comparisons so `for x in y` does not read `x in y`. */
exprlist
  : expr                      { $$ = $1; }
  | expr_seq                  { $$ = tuple(st, @1, $1); }
  | expr_seq expr             { ct_py_expr_list_push(A, $1, $2); $$ = tuple(st, @1, $1); }
  ;

expr_seq
  : expr ','                  { $$ = list1(st, $1); }
  | expr_seq expr ','         { $$ = $1; ct_py_expr_list_push(A, $$, $2); }
  ;

test
  : or_test                   { $$ = $1; }
  | or_test KW_IF or_test KW_ELSE test {
      $$ = mk(st, CT_PY_IFEXP, @1);
      $$->u.ifexp.then = $1;
      $$->u.ifexp.cond = $3;
      $$->u.ifexp.orelse = $5;
    }
  ;

or_test
  : and_test                  { $$ = $1; }
  | or_test KW_OR and_test    { $$ = boolop(st, @1, CT_PY_OR, $1, $3); }
  ;

and_test
  : not_test                  { $$ = $1; }
  | and_test KW_AND not_test  { $$ = boolop(st, @1, CT_PY_AND, $1, $3); }
  ;

not_test
  : KW_NOT not_test           { $$ = unary(st, @1, CT_PY_NOT, $2); }
  | comparison                { $$ = $1; }
  ;

comparison
  : expr                      { $$ = $1; }
  | comparison comp_op expr {
      if ($1->kind == CT_PY_COMPARE && !$1->parenthesized) {
        $$ = $1;
      } else {
        $$ = mk(st, CT_PY_COMPARE, @1);
        $$->u.compare.first = $1;
      }
      ct_py_compare_push(A, $$, (ct_py_cmpop)$2, $3);
    }
  ;

comp_op
  : '<'                       { $$ = CT_PY_LT; }
  | '>'                       { $$ = CT_PY_GT; }
  | LE                        { $$ = CT_PY_LE; }
  | GE                        { $$ = CT_PY_GE; }
  | EQ                        { $$ = CT_PY_EQ; }
  | NE                        { $$ = CT_PY_NE; }
  | KW_IN                     { $$ = CT_PY_IN; }
  | KW_NOT KW_IN              { $$ = CT_PY_NOT_IN; }
  | KW_IS                     { $$ = CT_PY_IS; }
  | KW_IS KW_NOT              { $$ = CT_PY_IS_NOT; }
  ;

expr
  : xor_expr                  { $$ = $1; }
  | expr '|' xor_expr         { $$ = binary(st, @1, CT_PY_BITOR, $1, $3); }
  ;

xor_expr
  : and_expr                  { $$ = $1; }
  | xor_expr '^' and_expr     { $$ = binary(st, @1, CT_PY_BITXOR, $1, $3); }
  ;

and_expr
  : shift_expr                { $$ = $1; }
  | and_expr '&' shift_expr   { $$ = binary(st, @1, CT_PY_BITAND, $1, $3); }
  ;

shift_expr
  : arith_expr                    { $$ = $1; }
  | shift_expr LSHIFT arith_expr  { $$ = binary(st, @1, CT_PY_LSHIFT, $1, $3); }
  | shift_expr RSHIFT arith_expr  { $$ = binary(st, @1, CT_PY_RSHIFT, $1, $3); }
  ;

arith_expr
  : term                      { $$ = $1; }
  | arith_expr '+' term       { $$ = binary(st, @1, CT_PY_ADD, $1, $3); }
  | arith_expr '-' term       { $$ = binary(st, @1, CT_PY_SUB, $1, $3); }
  ;

term
  : factor                    { $$ = $1; }
  | term '*' factor           { $$ = binary(st, @1, CT_PY_MUL, $1, $3); }
  | term '/' factor           { $$ = binary(st, @1, CT_PY_DIV, $1, $3); }
  | term FLOORDIV factor      { $$ = binary(st, @1, CT_PY_FLOORDIV, $1, $3); }
  | term '%' factor           { $$ = binary(st, @1, CT_PY_MOD, $1, $3); }
  | term '@' factor           { $$ = binary(st, @1, CT_PY_MATMUL, $1, $3); }
  ;

factor
  : '+' factor                { $$ = unary(st, @1, CT_PY_POS, $2); }
  | '-' factor                { $$ = unary(st, @1, CT_PY_NEG, $2); }
  | '~' factor                { $$ = unary(st, @1, CT_PY_INVERT, $2); }
  | power                     { $$ = $1; }
  ;

power
  : primary                   { $$ = $1; }
  | primary POW factor        { $$ = binary(st, @1, CT_PY_POW, $1, $3); }
  ;

primary
  : atom                      { $$ = $1; }
  | primary '.' NAME {
      $$ = mk(st, CT_PY_ATTR, @1);
      $$->u.attr.value = $1;
      $$->u.attr.attr = $3;
    }
  | primary '(' args_opt ')' {
      $$ = $3;
      $$->line = @1.first_line;
      $$->col = @1.first_column;
      $$->u.call.func = $1;
    }
  | primary '[' subscriptlist ']' {
      $$ = mk(st, CT_PY_SUBSCRIPT, @1);
      $$->u.sub.value = $1;
      $$->u.sub.index = $3;
    }
  ;

/* A call's arguments collect into a CT_PY_CALL whose func the caller fills in. */
args_opt
  : %empty                    { $$ = mk(st, CT_PY_CALL, @$); }
  | arglist                   { $$ = $1; }
  | arglist ','               { $$ = $1; }
  ;

arglist
  : test {
      $$ = mk(st, CT_PY_CALL, @1);
      ct_py_expr_list_push(A, &$$->u.call.args, $1);
    }
  | test comp_for {
      $$ = mk(st, CT_PY_CALL, @1);
      $2->u.comp.elt = $1;
      ct_py_expr_list_push(A, &$$->u.call.args, $2);
    }
  | NAME '=' test {
      $$ = mk(st, CT_PY_CALL, @1);
      ct_py_keyword_push(A, &$$->u.call.kwargs,
                         (ct_py_keyword){$1, $3, @1.first_line, @1.first_column});
    }
  | '*' test {
      $$ = mk(st, CT_PY_CALL, @1);
      ct_py_expr *s = mk(st, CT_PY_STARRED, @1);
      s->u.starred.value = $2;
      ct_py_expr_list_push(A, &$$->u.call.args, s);
    }
  | POW test {
      $$ = mk(st, CT_PY_CALL, @1);
      ct_py_keyword_push(A, &$$->u.call.kwargs,
                         (ct_py_keyword){NULL, $2, @1.first_line, @1.first_column});
    }
  | arglist ',' test          { $$ = $1; ct_py_expr_list_push(A, &$$->u.call.args, $3); }
  | arglist ',' NAME '=' test {
      $$ = $1;
      ct_py_keyword_push(A, &$$->u.call.kwargs,
                         (ct_py_keyword){$3, $5, @3.first_line, @3.first_column});
    }
  | arglist ',' '*' test {
      $$ = $1;
      ct_py_expr *s = mk(st, CT_PY_STARRED, @3);
      s->u.starred.value = $4;
      ct_py_expr_list_push(A, &$$->u.call.args, s);
    }
  | arglist ',' POW test {
      $$ = $1;
      ct_py_keyword_push(A, &$$->u.call.kwargs,
                         (ct_py_keyword){NULL, $4, @3.first_line, @3.first_column});
    }
  ;

subscriptlist
  : subscript                 { $$ = $1; }
  | subscript_seq             { $$ = tuple(st, @1, $1); }
  | subscript_seq subscript   { ct_py_expr_list_push(A, $1, $2); $$ = tuple(st, @1, $1); }
  ;

subscript_seq
  : subscript ','                 { $$ = list1(st, $1); }
  | subscript_seq subscript ','   { $$ = $1; ct_py_expr_list_push(A, $$, $2); }
  ;

subscript
  : test                      { $$ = $1; }
  | test_opt ':' test_opt {
      $$ = mk(st, CT_PY_SLICE, $1 ? @1 : @2);
      $$->u.slice.lo = $1;
      $$->u.slice.hi = $3;
    }
  | test_opt ':' test_opt ':' test_opt {
      $$ = mk(st, CT_PY_SLICE, $1 ? @1 : @2);
      $$->u.slice.lo = $1;
      $$->u.slice.hi = $3;
      $$->u.slice.step = $5;
    }
  ;

test_opt
  : %empty                    { $$ = NULL; }
  | test                      { $$ = $1; }
  ;

/* One or more `for target in iter [if cond]` clauses; the element is filled in by the caller. */
comp_for
  : KW_FOR exprlist KW_IN or_test {
      $$ = mk(st, CT_PY_LISTCOMP, @1);
      ct_py_comp_push(A, $$, (ct_py_comp_for){$2, $4, {0}, @1.first_line, @1.first_column});
    }
  | comp_for KW_FOR exprlist KW_IN or_test {
      $$ = $1;
      ct_py_comp_push(A, $$, (ct_py_comp_for){$3, $5, {0}, @2.first_line, @2.first_column});
    }
  | comp_for KW_IF or_test {
      $$ = $1;
      ct_py_expr_list_push(A, &$$->u.comp.gens[$$->u.comp.n_gens - 1].ifs, $3);
    }
  ;

atom
  : NAME                      { $$ = mk(st, CT_PY_NAME, @1); $$->u.name = $1; }
  | INT                       { $$ = mk(st, CT_PY_INT, @1); $$->u.i = $1; }
  | FLOAT                     { $$ = mk(st, CT_PY_FLOAT, @1); $$->u.f = $1; }
  | strings                   { $$ = $1; }
  | KW_TRUE                   { $$ = mk(st, CT_PY_BOOL, @1); $$->u.b = true; }
  | KW_FALSE                  { $$ = mk(st, CT_PY_BOOL, @1); $$->u.b = false; }
  | KW_NONE                   { $$ = mk(st, CT_PY_NONE, @1); }
  | ELLIPSIS                  { $$ = mk(st, CT_PY_ELLIPSIS, @1); }
  | '(' ')' {
      $$ = mk(st, CT_PY_TUPLE, @1);
      $$->parenthesized = true;
    }
  | '(' testlist ')' {
      $$ = $2;
      if (bare_tuple($$)) {
        $$->line = @1.first_line;
        $$->col = @1.first_column;
      }
      $$->parenthesized = true;
    }
  | '(' test comp_for ')' {
      $$ = $3;
      $$->u.comp.elt = $2;
      $$->line = @1.first_line;
      $$->col = @1.first_column;
      $$->parenthesized = true;
    }
  | '[' ']'                   { $$ = mk(st, CT_PY_LIST, @1); }
  | '[' testlist ']' {
      $$ = mk(st, CT_PY_LIST, @1);
      if (bare_tuple($2))
        $$->u.elts = $2->u.elts;
      else
        ct_py_expr_list_push(A, &$$->u.elts, $2);
    }
  | '[' test comp_for ']' {
      $$ = $3;
      $$->u.comp.elt = $2;
      $$->line = @1.first_line;
      $$->col = @1.first_column;
    }
  ;

strings
  : STRING {
      $$ = mk(st, CT_PY_STR, @1);
      $$->u.str.s = $1.s;
      $$->u.str.len = $1.len;
    }
  | strings STRING {
      $$ = $1;
      char *s = ct_arena_alloc(A, $1->u.str.len + $2.len + 1);
      memcpy(s, $1->u.str.s, $1->u.str.len);
      memcpy(s + $1->u.str.len, $2.s, $2.len);
      $$->u.str.s = s;
      $$->u.str.len += $2.len;
    }
  ;

%%

/* "syntax error: unexpected X" at the offending token; names its text for identifiers, and
 * says what was expected when exactly one token would do. */
static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, ct_py_state *st) {
  (void)scanner;
  const PYYLTYPE *loc = yypcontext_location(ctx);
  yysymbol_kind_t tok = yypcontext_token(ctx);
  char what[160];
  if (tok == YYSYMBOL_NAME && st->tok_len > 0 && st->tok_len < 100)
    snprintf(what, sizeof what, "identifier '%.*s'", (int)st->tok_len, st->tok_text);
  else if (tok == YYSYMBOL_YYUNDEF && st->tok_len > 0 && st->tok_len < 100)
    snprintf(what, sizeof what, "'%.*s'", (int)st->tok_len, st->tok_text);
  else if (tok == YYSYMBOL_YYEOF)
    snprintf(what, sizeof what, "end of file");
  else
    snprintf(what, sizeof what, "%s", yysymbol_name(tok));
  yysymbol_kind_t expected[2];
  int n = yypcontext_expected_tokens(ctx, expected, 2);
  if (n == 1)
    ct_py_error(st, loc->first_line, loc->first_column, "syntax error: unexpected %s, expected %s",
                what, yysymbol_name(expected[0]));
  else
    ct_py_error(st, loc->first_line, loc->first_column, "syntax error: unexpected %s", what);
  return 0;
}
