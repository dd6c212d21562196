"""The OpenAPI document, derived from the handlers' own code so it cannot drift from their checks.

Each operation is read from its handler method's source (and the handler methods and
module functions it calls with `self`): the `field(body, "name", kind, ...)` calls give
the JSON body's properties with their checks, `int_arg`/`get_argument`/`keyset` the query
parameters, `upload_bytes`/`upload_filename` a raw upload, `write_json(obj, status)`,
`no_content()`, `set_status`, `Content-Type` headers and `APIError(status)` the answers.
Names in those calls (LANGUAGES, MAX_PAGE...) are looked up in the module that uses them,
so a changed limit or choice changes the document too.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from .base import MAX_ID, MAX_PAGE, APIHandler, UploadHandler

METHODS = ("get", "post", "put", "patch", "delete")
PATH_PARAM = re.compile(r"\(\?P<(\w+)>([^)]*)\)")
# Method names whose code is the base class's (their checks are described as primitives).
BASE_CLASSES = (APIHandler, UploadHandler)
# What the handlers' receiver is called in the module functions they call with it.
RECEIVERS = ("self", "handler")
NULL = {"nullable": True}
CONTAINERS = ("tuple", "list", "sorted", "set", "frozenset")
ERROR_REF = {"$ref": "#/components/schemas/Error"}
JSON = "application/json"
KINDS = {str: "string", int: "integer", bool: "boolean", float: "number", list: "array",
         dict: "object"}
# Errors the base class's helpers answer, by helper (they say why in the Error body).
HELPER_ERRORS = {
    "json_body": {400}, "field": {400}, "int_arg": {400}, "float_arg": {400},
    "keyset": {400}, "page_bounds": {400}, "get_argument": {400}, "upload_filename": {400},
    "upload_bytes": {400, 413}, "take_chunks": {413}, "load": {404},
    "load_with_role": {404}, "load_space": {404}, "load_user": {404},
    "app_context": {404}, "require": {401, 403, 404}, "require_page": {401, 403, 404},
    "require_edit": {401, 403, 404}, "me": {401, 403}, "require_hub_admin": {403},
    "require_trusted_service": {403}, "store": {400, 413, 415},
}


def openapi_path(pattern: str) -> str:
    """'/spaces/(?P<slug>[^/]+)' -> '/spaces/{slug}'."""
    path = PATH_PARAM.sub(lambda match: "{" + match.group(1) + "}", pattern)
    return path.rstrip("$").replace("\\.", ".")


def served_operations(handlers) -> dict[str, dict[str, type]]:
    """{openapi path: {method: handler}} for every method a handler defines itself."""
    paths: dict[str, dict[str, type]] = {}
    for pattern, handler in handlers:
        if openapi_path(pattern) in paths:
            continue  # Tornado serves a path with its first matching route
        methods = {}
        for method in METHODS:
            for klass in handler.__mro__:
                if klass in BASE_CLASSES:
                    break
                if method in vars(klass):
                    methods[method] = handler
                    break
        paths[openapi_path(pattern)] = methods
    return paths


def path_parameters(pattern: str) -> list[dict]:
    """Path parameters with the route's own pattern (digits become integers)."""
    params = []
    for name, regex in PATH_PARAM.findall(pattern):
        if regex == r"\d+":
            schema = {"type": "integer", "minimum": 0}
        else:
            schema = {"type": "string", "pattern": f"^{regex}$"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


# --- reading handler code -------------------------------------------------------------


@dataclass
class Facts:
    """What a handler method (and what it calls) reads and answers."""

    json_body: bool = False
    raw_body: bool = False
    properties: dict[str, dict] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    closed: bool = False  # unknown body properties are refused
    query: dict[str, dict] = field(default_factory=dict)  # name -> parameter
    # status -> {content type -> schema}; an empty dict: no body
    answers: dict[int, dict[str, dict]] = field(default_factory=dict)
    errors: set[int] = field(default_factory=set)

    def merge(self, other: Facts) -> None:
        self.json_body |= other.json_body
        self.raw_body |= other.raw_body
        for name, schema in other.properties.items():
            self.properties[name] = _stricter(self.properties.get(name), schema)
        self.required |= other.required
        self.closed |= other.closed
        for name, param in other.query.items():
            self.query.setdefault(name, param)
        for status, contents in other.answers.items():
            self.answers.setdefault(status, {}).update(contents)
        self.errors |= other.errors


def _stricter(old: dict | None, new: dict) -> dict:
    return new if not old or len(new) > len(old) else old


@functools.cache
def function_tree(func) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return None
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node
    return None


def local_import(tree, name: str, scope: dict):
    """A name a function imports inside itself (`from .privacy import erase_own_account`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module \
                and any((alias.asname or alias.name) == name for alias in node.names):
            package = scope["__name__"].rsplit(".", 1)[0]
            module = importlib.import_module(f".{node.module}", package)
            return getattr(module, name, None)
    return None


def literal(node: ast.AST | None, scope: dict) -> Any:
    """The value of a constant expression (names looked up in `scope`); ... if not one."""
    if node is None:
        return ...
    for sub in ast.walk(node):
        # Only names, attributes, literals, arithmetic and containers built from them:
        # nothing else is called.
        if isinstance(sub, ast.Call):
            if not (isinstance(sub.func, ast.Name) and sub.func.id in CONTAINERS
                    and not sub.keywords):
                return ...
        elif not isinstance(sub, (ast.Constant, ast.Name, ast.Attribute, ast.Tuple, ast.List,
                                  ast.Set, ast.BinOp, ast.UnaryOp, ast.Load, ast.operator,
                                  ast.unaryop)):
            return ...
    try:
        return eval(compile(ast.Expression(node), "<openapi>", "eval"), dict(scope))  # noqa: S307
    except Exception:
        return ...


def call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def on_receiver(node: ast.AST) -> bool:
    """`self.x` / `handler.x`."""
    return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in RECEIVERS)


class Reader:
    """Reads one handler class's methods; follows its own methods and helper functions."""

    def __init__(self, handler: type) -> None:
        self.handler = handler

    def own_method(self, name: str):
        """A method of the handler (not of the base classes), or None."""
        for klass in self.handler.__mro__:
            if klass in BASE_CLASSES or klass is object:
                return None
            if name in vars(klass):
                value = vars(klass)[name]
                if isinstance(value, property):
                    return value.fget
                value = getattr(value, "__func__", value)  # staticmethod, classmethod
                return value if inspect.isfunction(value) else None
        return None

    parents: dict = {}
    known: dict = {}

    def facts(self, func, seen: set | None = None, known: dict | None = None) -> Facts:
        """Facts of `func`; `known`: its arguments' values when the caller gave constants."""
        seen = set() if seen is None else seen
        tree = function_tree(func)
        if tree is None or func in seen:
            return Facts()
        seen.add(func)
        saved = self.parents, self.known
        self.parents = {child: node for node in ast.walk(tree)
                        for child in ast.iter_child_nodes(node)}
        self.known = known or {}
        try:
            return self.read(func, tree, seen)
        finally:
            self.parents, self.known = saved

    def read(self, func, tree, seen: set) -> Facts:
        facts = Facts()
        scope = {**func.__globals__, **self.known}
        # Helpers get the request body as a parameter called `body`.
        body_names = {a.arg for a in tree.args.args if a.arg == "body"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                    and call_name(node.value) == "json_body":
                body_names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and on_receiver(node):
                self.attribute(node.attr, facts, seen)
            if isinstance(node, ast.Call):
                self.call(node, tree, scope, facts, body_names, seen)
            elif isinstance(node, ast.Compare) and _body_ref(node.comparators[0], body_names) \
                    and isinstance(node.ops[0], (ast.In, ast.NotIn)):
                name = literal(node.left, scope)
                if isinstance(name, str):
                    facts.properties.setdefault(name, {})
            elif isinstance(node, ast.Subscript) and _body_ref(node.value, body_names) \
                    and isinstance(node.ctx, ast.Load):
                name = literal(node.slice, scope)
                if isinstance(name, str):
                    facts.properties.setdefault(name, {})
            elif isinstance(node, ast.comprehension):
                self.limits_loop(node, tree, scope, facts, body_names)
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
                self.unknown_check(node, scope, facts, body_names)
        self.own_checks(tree, scope, facts, body_names)
        return facts

    def own_checks(self, tree, scope: dict, facts: Facts, body_names: set) -> None:
        """A field checked by hand: `value = body.get(K)`, then `if value is None: raise`
        (required) or `if not isinstance(value, str): raise` (its type)."""
        fields: dict[str, str] = {}
        arguments: dict[str, str] = {}  # variable -> query argument
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name) \
                    and isinstance(node.value, ast.Call) \
                    and call_name(node.value) == "get_argument" and node.value.args:
                key = literal(node.value.args[0], scope)
                if isinstance(key, str):
                    arguments[node.targets[0].id] = key
            if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name):
                value = node.value
                key = ...
                if isinstance(value, ast.Call) and call_name(value) == "get" and value.args \
                        and isinstance(value.func, ast.Attribute) \
                        and _body_ref(value.func.value, body_names):
                    key = literal(value.args[0], scope)
                elif isinstance(value, ast.Subscript) and _body_ref(value.value, body_names):
                    key = literal(value.slice, scope)
                if isinstance(key, str):
                    fields[node.targets[0].id] = key
        for node in ast.walk(tree):
            if not (isinstance(node, ast.If) and any(isinstance(n, ast.Raise)
                                                     for n in node.body)):
                continue
            test = node.test
            for sub in ast.walk(test):
                # `if value not in CHOICES: raise` (maybe after `value is not None and`)
                if isinstance(sub, ast.Compare) and isinstance(sub.left, ast.Name) \
                        and isinstance(sub.ops[0], ast.NotIn):
                    choices = literal(sub.comparators[0], scope)
                    if not isinstance(choices, (tuple, list, set, frozenset, dict)):
                        continue
                    if sub.left.id in arguments and arguments[sub.left.id] in facts.query:
                        facts.query[arguments[sub.left.id]]["schema"]["enum"] = sorted(choices)
                    elif sub.left.id in fields:
                        facts.properties.setdefault(fields[sub.left.id], {})["enum"] = \
                            sorted(choices)
            if isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) \
                    and test.left.id in fields and isinstance(test.ops[0], ast.Is) \
                    and isinstance(test.comparators[0], ast.Constant) \
                    and test.comparators[0].value is None and not self.conditional(node):
                facts.required.add(fields[test.left.id])
            if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) \
                    and isinstance(test.operand, ast.Call) \
                    and call_name(test.operand) == "isinstance" \
                    and len(test.operand.args) == 2 \
                    and isinstance(test.operand.args[0], ast.Name) \
                    and test.operand.args[0].id in fields:
                kind = literal(test.operand.args[1], scope)
                if kind in KINDS:
                    name = fields[test.operand.args[0].id]
                    schema = facts.properties.setdefault(name, {})
                    schema["type"] = KINDS[kind]

    def attribute(self, name: str, facts: Facts, seen: set) -> None:
        if name in ("upload_bytes", "take_chunks", "_chunks"):
            facts.raw_body = True
        facts.errors |= HELPER_ERRORS.get(name, set())
        method = self.own_method(name)
        if method is not None and callable(method):
            facts.merge(self.facts(method, seen))

    def call(self, node: ast.Call, tree, scope: dict, facts: Facts, body_names: set,
             seen: set) -> None:
        name = call_name(node)
        args, kwargs = node.args, {k.arg: k.value for k in node.keywords}
        if name == "field" and len(args) >= 2:
            self.body_field(args, kwargs, node, scope, facts)
        elif name == "get" and isinstance(node.func, ast.Attribute) and args and (
                _body_ref(node.func.value, body_names)
                or isinstance(node.func.value, ast.Call)
                and call_name(node.func.value) == "json_body"):
            key = literal(args[0], scope)
            if isinstance(key, str):
                facts.properties.setdefault(key, {})
        elif name == "json_body":
            facts.json_body = True
        elif name in ("int_arg", "float_arg") and args:
            arg = literal(args[0], scope)
            low = literal(kwargs.get("low"), scope)
            high = literal(kwargs.get("high"), scope)
            schema: dict[str, Any] = {"type": "number"}  # float_arg clamps, never refuses
            if name == "int_arg":
                schema = {"type": "integer", "minimum": 0 if low is ... else low,
                          "maximum": MAX_ID if high is ... else high}
            facts.query[arg] = {"name": arg, "in": "query", "required": False,
                                "schema": schema}
        elif name in ("get_argument", "get_query_argument") and args:
            arg = literal(args[0], scope)
            facts.query.setdefault(arg, {"name": arg, "in": "query",
                                         "required": len(args) < 2 and "default" not in kwargs,
                                         "schema": {"type": "string"}})
        elif name in ("keyset", "page_bounds"):
            for arg, schema in (("limit", {"minimum": 1, "maximum": MAX_PAGE}),
                                ("before", {"minimum": 0, "maximum": MAX_ID}),
                                ("after", {"minimum": 0, "maximum": MAX_ID})):
                facts.query.setdefault(arg, {"name": arg, "in": "query", "required": False,
                                             "schema": {"type": "integer", **schema}})
        elif name == "upload_filename":
            facts.query["filename"] = {"name": "filename", "in": "query", "required": True,
                                       "schema": {"type": "string", "minLength": 1}}
        elif name == "write_json" and args:
            statuses = self.statuses(args[1] if len(args) > 1 else kwargs.get("status"),
                                     tree, scope)
            schema = Shapes(self, tree, scope).schema(args[0])
            for status in statuses:
                facts.answers.setdefault(status, {})[JSON] = schema
        elif name == "no_content":
            facts.answers.setdefault(204, {})
        elif name == "set_status" and args:
            status = literal(args[0], scope)
            if isinstance(status, int):
                facts.answers.setdefault(status, {})
        elif name == "redirect":
            facts.answers.setdefault(302, {})
        elif name == "set_header" and len(args) == 2 and literal(args[0], scope) == "Content-Type":
            content = literal(args[1], scope)
            media = content.split(";")[0].strip() if isinstance(content, str) else "*/*"
            facts.answers.setdefault(200, {}).setdefault(
                media, {} if media == JSON else {"type": "string", "format": "binary"})
        elif name == "APIError" and args:
            status = literal(args[0], scope)
            if isinstance(status, int):
                facts.errors.add(status)
        facts.errors |= HELPER_ERRORS.get(name, set())
        # Follow the handler's own methods and the functions that get the handler itself.
        if on_receiver(node.func):
            method = self.own_method(node.func.attr)
            if method is not None:
                facts.merge(self.facts(method, seen, self.constant_arguments(method, node)))
        if isinstance(node.func, ast.Name):
            target = scope.get(node.func.id) or local_import(tree, node.func.id, scope)
            passes_handler = any(isinstance(a, ast.Name) and a.id in RECEIVERS for a in args)
            if passes_handler and inspect.isfunction(target):
                facts.merge(self.facts(target, seen))

    def constant_arguments(self, method, node: ast.Call) -> dict:
        """{parameter: value} for the constants a call passes (`creating=True`)."""
        args = function_tree(method).args
        names = [a.arg for a in args.args][1:]  # after self
        values = dict(zip(names[len(names) - len(args.defaults):], args.defaults, strict=True))
        values.update({k.arg: k.value for k in node.keywords if k.arg})
        values.update(zip(names, node.args, strict=False))
        return {name: value.value for name, value in values.items()
                if isinstance(value, ast.Constant)}

    def body_field(self, args, kwargs, node: ast.Call, scope: dict, facts: Facts) -> None:
        name = literal(args[1], scope)
        if not isinstance(name, str):
            return
        kind = literal(args[2], scope) if len(args) > 2 else literal(kwargs.get("kind"), scope)
        kind = str if kind is ... and len(args) < 3 and "kind" not in kwargs else kind
        schema: dict[str, Any] = {}
        if kind in KINDS:
            schema["type"] = KINDS[kind]
        if kind is str:
            max_len = literal(kwargs.get("max_len"), scope)
            schema["maxLength"] = 10_000 if max_len is ... else max_len
            if literal(kwargs.get("allow_empty"), scope) is not True:
                # Surrounding blanks are stripped before the check: one visible character.
                schema["pattern"] = r"\S"
        if kind is int:
            schema.update(minimum=-MAX_ID, maximum=MAX_ID)
        choices = literal(kwargs.get("choices"), scope)
        if isinstance(choices, (tuple, list, set, frozenset, dict)):
            schema["enum"] = sorted(choices)
            schema.pop("pattern", None)
        # null reads as left out: fine where there is a default, refused where not.
        # `**{...}` may bring a default: only a field without any, read whatever the
        # body holds, is required.
        defaulted = "default" in kwargs or None in kwargs
        optional = defaulted or self.conditional(node)
        if defaulted or self.read_unless_null(node, name):
            schema["nullable"] = True
        facts.properties[name] = _stricter(facts.properties.get(name), schema)
        if not optional:
            facts.required.add(name)

    def read_unless_null(self, node: ast.AST, name: str) -> bool:
        """Inside `if body.get(name) is not None:` (null reads as left out)."""
        parent = self.parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.If):
                for sub in ast.walk(parent.test):
                    if isinstance(sub, ast.Compare) and isinstance(sub.ops[0], ast.IsNot) \
                            and isinstance(sub.left, ast.Call) and call_name(sub.left) == "get" \
                            and sub.left.args and isinstance(sub.left.args[0], ast.Constant) \
                            and sub.left.args[0].value == name:
                        return True
            parent = self.parents.get(parent)
        return False

    def conditional(self, node: ast.AST) -> bool:
        """Whether `node` runs only under some condition (an `if`, a loop, a handler)."""
        parent = self.parents.get(node)
        child = node
        while parent is not None:
            if isinstance(parent, (ast.If, ast.IfExp, ast.While)) and child is not parent.test \
                    and truth(parent.test, self.known) is not True:
                return True
            if isinstance(parent, (ast.For, ast.AsyncFor, ast.ExceptHandler,
                                   ast.comprehension)) or \
                    isinstance(parent, ast.BoolOp) and child is not parent.values[0]:
                return True
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return False
            child, parent = parent, self.parents.get(parent)
        return False

    def limits_loop(self, node: ast.comprehension, tree, scope, facts, body_names) -> None:
        """`for name, limit in FIELDS.items()` feeding `check(body, name, limit)`."""
        it = node.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute)
                and it.func.attr == "items" and isinstance(node.target, ast.Tuple)):
            return
        fields = literal(it.func.value, scope)
        names = [t.id for t in node.target.elts if isinstance(t, ast.Name)]
        if not isinstance(fields, dict) or len(names) != 2:
            return
        for sub in ast.walk(tree):
            if isinstance(sub, ast.Call) and len(sub.args) == 3 \
                    and _body_ref(sub.args[0], body_names) \
                    and [getattr(a, "id", None) for a in sub.args[1:]] == names:
                for key, limit in fields.items():
                    facts.properties[key] = {"type": "string", "maxLength": limit,
                                             "nullable": True}

    def unknown_check(self, node: ast.BinOp, scope, facts, body_names) -> None:
        """`set(body) - set(FIELDS) - ...`: only those fields are accepted."""
        parts = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
            parts.append(node.right)
            node = node.left
        if not (isinstance(node, ast.Call) and call_name(node) == "set" and node.args
                and _body_ref(node.args[0], body_names)):
            return
        for part in parts:
            if isinstance(part, ast.Call) and call_name(part) == "set" and part.args:
                known = literal(part.args[0], scope)
                if isinstance(known, (dict, tuple, list, set)):
                    for key in known:
                        facts.properties.setdefault(key, {})
        facts.closed = True

    def statuses(self, node, tree, scope) -> set[int]:
        if node is None:
            return {200}
        value = literal(node, scope)
        if isinstance(value, int):
            return {value}
        found: set[int] = set()
        if isinstance(node, ast.Name):
            # `status = 201 if created else 200`, `status, saved = self._save(...)`
            for sub in ast.walk(tree):
                if not isinstance(sub, ast.Assign):
                    continue
                for target in sub.targets:
                    if isinstance(target, ast.Name) and target.id == node.id:
                        found |= _statuses_in(sub.value)
                    elif isinstance(target, ast.Tuple):
                        index = [getattr(e, "id", None) for e in target.elts]
                        if node.id in index:
                            found |= self.tuple_statuses(sub.value, index.index(node.id))
        return found or {200}

    def tuple_statuses(self, value: ast.AST, index: int) -> set[int]:
        if isinstance(value, ast.Tuple) and len(value.elts) > index:
            return _statuses_in(value.elts[index])
        if isinstance(value, ast.Call) and on_receiver(value.func):
            method = self.own_method(value.func.attr)
            tree = function_tree(method) if method else None
            found: set[int] = set()
            for sub in ast.walk(tree) if tree else ():
                if isinstance(sub, ast.Return) and isinstance(sub.value, ast.Tuple) \
                        and len(sub.value.elts) > index:
                    returned = sub.value.elts[index]
                    found |= (self.statuses(returned, tree, method.__globals__)
                              if isinstance(returned, ast.Name) else _statuses_in(returned))
            return found
        return set()


def _statuses_in(node: ast.AST) -> set[int]:
    return {c.value for c in ast.walk(node) if isinstance(c, ast.Constant)
            and type(c.value) is int and 100 <= c.value < 600}


def truth(test: ast.AST, known: dict) -> bool | None:
    """True when `test` holds whatever the request (`creating or "x" in body`, creating=True)."""
    if isinstance(test, ast.Name) and test.id in known:
        return bool(known[test.id])
    if isinstance(test, ast.Constant):
        return bool(test.value)
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        return True if any(truth(v, known) is True for v in test.values) else None
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return True if all(truth(v, known) is True for v in test.values) else None
    return None


def _body_ref(node: ast.AST, body_names: set) -> bool:
    return isinstance(node, ast.Name) and node.id in body_names


class Shapes:
    """JSON schemas of the values a handler answers, as far as its code shows them."""

    def __init__(self, reader: Reader, tree, scope: dict, depth: int = 0) -> None:
        self.reader, self.tree, self.scope, self.depth = reader, tree, scope, depth

    def schema(self, node: ast.AST) -> dict:
        if self.depth > 6:
            return {}
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                return {"type": "boolean"}
            if isinstance(value, int):
                return {"type": "integer"}
            if isinstance(value, float):
                return {"type": "number"}
            if isinstance(value, str):
                return {"type": "string"}
            return dict(NULL) if value is None else {}
        if isinstance(node, ast.JoinedStr):
            return {"type": "string"}
        if isinstance(node, (ast.Compare,)) or (isinstance(node, ast.UnaryOp)
                                                and isinstance(node.op, ast.Not)):
            return {"type": "boolean"}
        if isinstance(node, ast.Dict):
            return self.dict_schema(node)
        if isinstance(node, (ast.List, ast.Tuple, ast.ListComp)):
            items = self.schema(node.elt) if isinstance(node, ast.ListComp) else {}
            return {"type": "array", "items": items}
        if isinstance(node, ast.IfExp):
            return either(self.schema(node.body), self.schema(node.orelse))
        if isinstance(node, ast.Name):
            return self.name_schema(node.id)
        if isinstance(node, ast.Call):
            return self.call_schema(node)
        return {}

    def dict_schema(self, node: ast.Dict) -> dict:
        properties: dict[str, dict] = {}
        required: list[str] = []
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:  # **splat: its keys too, when they are known
                splat = self.schema(value)
                properties.update(splat.get("properties", {}))
                required += splat.get("required", [])
            elif isinstance(key, ast.Constant) and isinstance(key.value, str):
                properties[key.value] = self.schema(value)
                required.append(key.value)
        out: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            out["required"] = sorted(set(required))
        return out

    def name_schema(self, name: str) -> dict:
        values = [sub.value for sub in ast.walk(self.tree) if isinstance(sub, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == name for t in sub.targets)]
        bindings = [sub for sub in ast.walk(self.tree) if isinstance(sub, ast.Name)
                    and sub.id == name and isinstance(sub.ctx, ast.Store)]
        params = {a.arg for a in ast.walk(self.tree) if isinstance(a, ast.arg)}
        if len(values) != 1 or len(bindings) != 1 or name in params:
            return {}  # bound more than once (or a parameter): whatever it holds
        schema = self.schema(values[0])
        if schema.get("type") == "object":
            # Keys added later (`body["x"] = ...`) are there only sometimes.
            schema = {**schema, "properties": dict(schema["properties"])}
            for sub in ast.walk(self.tree):
                if isinstance(sub, ast.Assign):
                    for target in sub.targets:
                        if isinstance(target, ast.Subscript) \
                                and isinstance(target.value, ast.Name) \
                                and target.value.id == name \
                                and isinstance(target.slice, ast.Constant):
                            schema["properties"].setdefault(target.slice.value,
                                                            self.schema(sub.value))
        return schema

    def call_schema(self, node: ast.Call) -> dict:
        name = call_name(node)
        if isinstance(node.func, ast.Name) and name in ("bool",):
            return {"type": "boolean"}
        if isinstance(node.func, ast.Name) and name in ("len", "int"):
            return {"type": "integer"}
        if isinstance(node.func, ast.Name) and name == "str":
            return {"type": "string"}
        if isinstance(node.func, ast.Name) and name in ("list", "sorted"):
            return {"type": "array"}
        if isinstance(node.func, ast.Name):
            target = self.scope.get(name)
        elif on_receiver(node.func):
            target = self.reader.own_method(name)
        else:
            return {}
        if not inspect.isfunction(target):
            return {}
        return returned_schema(self.reader, target, self.depth + 1)


def returned_schema(reader: Reader, func, depth: int) -> dict:
    """The schema of what `func` returns, when every return gives the same kind of value."""
    tree = function_tree(func)
    if tree is None:
        return {}
    shapes = Shapes(reader, tree, func.__globals__, depth)
    returns = [sub for sub in ast.walk(tree) if isinstance(sub, ast.Return)
               and not _inside_nested_function(tree, sub)]
    schemas = [shapes.schema(r.value) if r.value is not None else dict(NULL) for r in returns]
    nullable = NULL in schemas
    schemas = [s for s in schemas if s != NULL]
    if not schemas or any(not s.get("type") for s in schemas):
        return {}
    if nullable:
        return either(returned_schema_of(schemas), dict(NULL))
    return returned_schema_of(schemas)


def returned_schema_of(schemas: list[dict]) -> dict:
    if len({s["type"] for s in schemas}) != 1:
        return {}
    if schemas[0]["type"] != "object":
        return schemas[0] if all(s == schemas[0] for s in schemas) else {"type": schemas[0]["type"]}
    properties: dict[str, dict] = {}
    required = set(schemas[0].get("required", []))
    for s in schemas:
        for key, value in s["properties"].items():
            properties[key] = value if properties.get(key, value) == value else {}
        required &= set(s.get("required", []))
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = sorted(required)
    return out


def either(a: dict, b: dict) -> dict:
    """The schema of `a if ... else b`."""
    if a == b:
        return a
    if b == NULL and a.get("type"):
        return {**a, "nullable": True}
    if a == NULL and b.get("type"):
        return {**b, "nullable": True}
    return {}


def _inside_nested_function(tree, node) -> bool:
    for sub in ast.walk(tree):
        if sub is not tree and isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                ast.Lambda)):
            if any(n is node for n in ast.walk(sub)):
                return True
    return False


# --- the document ---------------------------------------------------------------------


def operation(handler: type, method: str, params: list[dict]) -> dict:
    func = getattr(handler, method)
    reader = Reader(handler)
    facts = reader.facts(func)
    if "prepare" in vars(handler) or any("check_upload" in vars(k) for k in handler.__mro__
                                          if k not in BASE_CLASSES):
        for name in ("prepare", "check_upload"):
            helper = reader.own_method(name)
            if helper is not None:
                facts.merge(reader.facts(helper))
    doc = inspect.getdoc(func) or handler.__name__
    summary, _, details = doc.partition("\n")
    out: dict[str, Any] = {
        "summary": summary.strip(),
        "operationId": f"{method}_{handler.__name__}",
        "tags": [handler.__module__.rsplit(".", 1)[-1]],
    }
    if details.strip():
        out["description"] = details.strip()
    parameters = params + sorted(facts.query.values(), key=lambda p: p["name"])
    if parameters:
        out["parameters"] = parameters
    upload = issubclass(handler, UploadHandler) and method.upper() in handler.upload_methods
    if upload and facts.raw_body:
        out["requestBody"] = {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                 "format": "binary"}}},
        }
    elif facts.json_body:
        schema: dict[str, Any] = {"type": "object", "properties": facts.properties}
        if facts.required:
            schema["required"] = sorted(facts.required)
        if facts.closed:
            schema["additionalProperties"] = False
        out["requestBody"] = {"required": bool(facts.required),
                              "content": {JSON: {"schema": schema}}}
    responses: dict[str, Any] = {}
    answers = facts.answers or {200: {}}
    for status in sorted(answers):
        contents = answers[status]
        answer: dict[str, Any] = {"description": _describe(status)}
        if contents:
            answer["content"] = {media: {"schema": schema} for media, schema in contents.items()}
        responses[str(status)] = answer
    # Every request may meet an unknown or expired token (401), a cookie write (403),
    # an id beyond the database (404) and too many requests (429).
    errors = facts.errors | {401, 403}
    if any(p["name"].endswith("_id") for p in params):
        errors.add(404)
    for status in sorted(errors):
        if str(status) not in responses:
            responses[str(status)] = {"description": _describe(status),
                                      "content": {JSON: {"schema": ERROR_REF}}}
    responses["default"] = {"description": "Any other error",
                            "content": {JSON: {"schema": ERROR_REF}}}
    out["responses"] = responses
    return out


def _describe(status: int) -> str:
    from http.client import responses

    return responses.get(status, "Answer")


def add_links(paths: dict) -> None:
    """Link what a POST creates (`id` of its 201 answer) to the operations on it.

    `POST /spaces/{slug}/events` creates what `/events/{event_id}` serves: the created
    resource's collection is the first segment of the paths that take its id.
    """
    by_collection: dict[str, list[tuple[str, str, str]]] = {}
    for path, operations in paths.items():
        match = re.fullmatch(r"/(\w[\w-]*)/{(\w+_id)}(/.*)?", path)
        if match:
            for method, op in operations.items():
                by_collection.setdefault(match.group(1), []).append(
                    (op["operationId"], match.group(2), method))
    for path, operations in paths.items():
        created = operations.get("post", {}).get("responses", {}).get("201")
        schema = (created or {}).get("content", {}).get(JSON, {}).get("schema", {})
        if "id" not in schema.get("properties", {}):
            continue
        collection = [part for part in path.split("/") if part and "{" not in part][-1]
        links = {
            operation_id: {"operationId": operation_id,
                                         "parameters": {param: "$response.body#/id"}}
            for operation_id, param, _ in by_collection.get(collection, ())
        }
        if links:
            created["links"] = links


def openapi_document(application, handlers) -> dict:
    """The OpenAPI 3 document of `handlers` ((pattern, handler) pairs, as served)."""
    patterns: dict[str, str] = {}
    for pattern, _ in handlers:
        patterns.setdefault(openapi_path(pattern), pattern)
    paths = {}
    for path, methods in served_operations(handlers).items():
        params = path_parameters(patterns[path])
        paths[path] = {method: operation(handler, method, params)
                       for method, handler in methods.items()}
    add_links(paths)
    return {
        "openapi": "3.0.3",
        "info": {"title": "TwinSpace API", "version": "1"},
        "servers": [{"url": application.settings.get("api_prefix", "/")}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "hubToken": {"type": "apiKey", "in": "header", "name": "Authorization"}
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                    },
                }
            },
        },
        "security": [{"hubToken": []}, {}],
    }
