#!/usr/bin/python3
"""The message schema, the code and docs/messages.md agree (issue 14).

    check_messages.py ENCODER MSG_CHECK SCHEMA DOC CORPUS-DIR

ENCODER is tests/test_proto_encode (its --examples prints every example
message the docs show, made by the real encoder), MSG_CHECK is
tests/msg_check (the decoder's verdict per file), SCHEMA the JSON Schema
(docs/schemas/backy-1.schema.json), DOC docs/messages.md, CORPUS-DIR the
decoder's fuzz corpus.  Checks:

1. every example the encoder writes validates against the schema and the
   documented rules a schema cannot state (RULES below, from "Conventions
   and limits" in the doc), and the decoder accepts it;
2. every JSON block of the doc is one of those examples (an elided block,
   with "...", excepted), every example is in the doc, and every routing key
   the doc gives right before an example ("Routing key `...`:") is the one
   the code computes for it;
3. every corpus file the decoder accepts passes schema and rules; every file
   it rejects fails the schema or a documented rule.

Exit 0 when all hold; otherwise every disagreement is printed.
"""
import datetime
import json
import re
import subprocess
import sys

import jsonschema

MAX_BODY = 65536
MAX_DEPTH = 8
MAX_ITEMS = 64
MAX_KEY = 256
MAX_STRING = 4096
# bytes; other strings: MAX_STRING here, the schema bounds every known field
FIELD_BYTES = {"message": 1024, "filename": 4096}
KNOWN_MINOR = 0  # the encoder's minor, read from its examples


class Refused(Exception):
    """A documented rule the message breaks."""


def strict_load(raw):
    """Parse RAW as the decoder does: no duplicate keys, no NaN, integers kept apart."""
    def pairs(kv):
        keys = [k for k, _ in kv]
        if len(keys) != len(set(keys)):
            raise Refused("duplicate keys")
        return dict(kv)

    def bad_constant(name):
        raise Refused("not JSON: " + name)

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("invalid UTF-8")
    try:
        return json.loads(text, object_pairs_hook=pairs, parse_constant=bad_constant,
                          parse_float=lambda s: ("float", s))
    except json.JSONDecodeError as e:
        raise Refused("not JSON: %s" % e)
    except RecursionError:
        raise Refused("nested deeper than %d" % MAX_DEPTH)


def parse_time(s):
    t = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if not (datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) < t):
        raise Refused("time %s not after 1970-01-01T00:00:00Z" % s)
    return t


def walk(v, field, depth):
    """Generic limits: depth, entries, key and string bytes, nulls, integers."""
    if depth > MAX_DEPTH:
        raise Refused("nested deeper than %d" % MAX_DEPTH)
    if v is None:
        raise Refused("null value in '%s'" % field)
    if isinstance(v, tuple):  # ("float", text): a number with a fraction or exponent
        return
    if isinstance(v, str):
        n = len(v.encode("utf-8"))
        if "\0" in v:
            raise Refused("\\u0000 in '%s'" % field)
        if n > FIELD_BYTES.get(field, MAX_STRING):
            raise Refused("string '%s' of %d bytes is too long" % (field, n))
        if n == 0:
            raise Refused("empty string in '%s'" % field)
        return
    if isinstance(v, (list, dict)):
        if len(v) > MAX_ITEMS:
            raise Refused("'%s' has more than %d entries" % (field, MAX_ITEMS))
        items = v.items() if isinstance(v, dict) else ((field, x) for x in v)
        for k, x in items:
            if isinstance(v, dict) and len(k.encode("utf-8")) > MAX_KEY:
                raise Refused("key longer than %d bytes" % MAX_KEY)
            walk(x, k, depth + 1)


def typed(v):
    """RAW numbers with a fraction back to floats, for the schema."""
    if isinstance(v, tuple):
        return float(v[1])
    if isinstance(v, list):
        return [typed(x) for x in v]
    if isinstance(v, dict):
        return {k: typed(x) for k, x in v.items()}
    return v


def integers_are_integers(v, path=""):
    """Integer fields must be written as integers (1, not 1.0)."""
    INT_FIELDS = {"attempt", "keep", "bytes_written", "size", "slots", "busy", "free_bytes"}
    if isinstance(v, dict):
        for k, x in v.items():
            if k in INT_FIELDS and isinstance(x, tuple):
                raise Refused("field '%s' is not written as an integer" % k)
            integers_are_integers(x, k)
    elif isinstance(v, list):
        for x in v:
            integers_are_integers(x, path)


def rules(raw, msg):
    """The documented rules a JSON Schema cannot state; raises Refused."""
    if len(raw) > MAX_BODY:
        raise Refused("body larger than %d bytes" % MAX_BODY)
    if not isinstance(msg, dict):
        raise Refused("not an object at the top level")
    walk(msg, "", 1)
    integers_are_integers(msg)
    times = {}
    for k in ("time", "deadline", "started", "finished"):
        if isinstance(msg.get(k), str):
            try:
                times[k] = parse_time(msg[k])
            except ValueError:
                raise Refused("field '%s' is not a valid time" % k)
            if times[k].year >= 10000:
                raise Refused("time after year 9999")
    if "deadline" in times and "time" in times and times["deadline"] < times["time"]:
        raise Refused("deadline before time")
    if "started" in times and "finished" in times and times["finished"] < times["started"]:
        raise Refused("finished before started")
    if msg.get("kind") == "heartbeat" and isinstance(msg.get("slots"), int):
        if isinstance(msg.get("busy"), int) and msg["busy"] > msg["slots"]:
            raise Refused("busy larger than slots")
        if isinstance(msg.get("running"), list) and len(msg["running"]) > msg["slots"]:
            raise Refused("running lists more jobs than slots")
        for p in msg.get("progress") or []:
            if isinstance(p, dict) and p.get("job") not in (msg.get("running") or []):
                raise Refused("progress of a job that is not running")
            if isinstance(p, dict) and isinstance(p.get("done"), int) and isinstance(p.get("total"), int) \
                    and p["done"] > p["total"]:
                raise Refused("progress done larger than total")
    src = msg.get("source")
    if isinstance(src, dict) and isinstance(src.get("filename"), str):
        f = src["filename"]
        if any(p in (".", "..") for p in f.split("/")) or re.search(r"[\x00-\x1f\x7f]", f):
            raise Refused("filename with '.', '..' or control characters")
    err = msg.get("error")
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", err["message"]):
            raise Refused("control characters in error.message")
    ver = msg.get("verify")
    if isinstance(ver, dict) and isinstance(ver.get("checked"), int) and isinstance(ver.get("distrusted"), int) \
            and ver["distrusted"] > ver["checked"]:
        raise Refused("verify: more distrusted than checked")
    if isinstance(msg.get("older_than"), str) and re.fullmatch(r"0+(\.0+)?[wdhms]?", msg["older_than"]):
        raise Refused("older_than is not positive")
    sched = msg.get("schedule")
    if isinstance(sched, dict):
        for tag, e in sched.items():
            iv = e.get("interval") if isinstance(e, dict) else None
            if isinstance(iv, str) and re.fullmatch(r"0+(\.0+)?[wdhms]?", iv):
                raise Refused("interval of tag '%s' is not positive" % tag)


def minor(msg):
    m = re.fullmatch(r"backy/1\.([0-9]+)", str(msg.get("schema", "")))
    return int(m.group(1)) if m else None


def schema_errors(validator, msg):
    """Schema violations; unknown fields of a newer minor are ignored (docs: Versions)."""
    errs = list(validator.iter_errors(typed(msg)))
    if (minor(msg) or 0) > KNOWN_MINOR:
        errs = [e for e in errs if e.validator != "additionalProperties"]
    return errs


def verdict(raw, validator):
    """None when schema and rules accept RAW, else why not."""
    try:
        msg = strict_load(raw)
        rules(raw, msg)
    except Refused as e:
        return "rule: %s" % e
    errs = schema_errors(validator, msg)
    if errs:
        return "schema: %s at /%s" % (errs[0].message, "/".join(map(str, errs[0].path)))
    return None


def main(encoder, msg_check, schema_path, doc_path, corpus):
    problems = []
    schema = json.load(open(schema_path))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)

    # 1. the encoder's examples
    out = subprocess.run([encoder, "--examples"], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    global KNOWN_MINOR
    KNOWN_MINOR = minor(json.loads(lines[1]))
    examples = []  # (name, routing key, message)
    for head, body in zip(lines[0::2], lines[1::2]):
        name, key = head[2:].split(" ", 1)
        examples.append((name, key, json.loads(body)))
        why = verdict(body.encode(), validator)
        if why:
            problems.append("example %s: %s" % (name, why))
    if not examples:
        problems.append("the encoder printed no examples")

    # 2. the doc's JSON blocks and routing keys
    doc = open(doc_path).read()
    documented = []
    for block in re.findall(r"```json\n(.*?)```", doc, re.S):
        try:
            documented.append(json.loads(block))
        except json.JSONDecodeError:
            if "..." not in block:
                problems.append("docs: a JSON block that is not JSON: %s" % block[:80])
    msgs = [m for _, _, m in examples]
    for d in documented:
        if d not in msgs:
            problems.append("docs: an example the encoder does not write: %s" % json.dumps(d)[:160])
    for name, _, m in examples:
        if m not in documented:
            problems.append("docs: example %s is not in %s" % (name, doc_path))
    key_of = {json.dumps(m, sort_keys=True): k for _, k, m in examples}
    for key, block in re.findall(r"[Rr]outing key `([^`]+)`:\s*```json\n(.*?)```", doc, re.S):
        real = key_of.get(json.dumps(json.loads(block), sort_keys=True))
        if real is not None and real != key:
            problems.append("docs: routing key %s is given for an example, but the code computes %s"
                            % (key, real))

    # 3. the corpus: the decoder's verdict against schema and rules
    files = sorted(subprocess.run(["find", corpus, "-type", "f"], check=True, capture_output=True,
                                  text=True).stdout.split())
    res = subprocess.run([msg_check] + files, check=True, capture_output=True, text=True).stdout
    nacc = nrej = 0
    for line in res.splitlines():
        fields = line.split("\t")
        path, decoded = fields[1], fields[0] == "ok"
        why = verdict(open(path, "rb").read(), validator)
        if decoded:
            nacc += 1
            if why:
                problems.append("corpus %s: the decoder accepts it, but %s" % (path, why))
        else:
            nrej += 1
            if not why:
                problems.append("corpus %s: the decoder refuses it (%s), schema and documented rules accept it"
                                % (path, fields[3]))
    if nacc == 0 or nrej == 0:
        problems.append("corpus: %d accepted and %d rejected files; need both" % (nacc, nrej))
    for p in problems:
        print("FAIL: " + p)
    print("%d examples, %d doc blocks, corpus %d accepted / %d rejected: %s"
          % (len(examples), len(documented), nacc, nrej, "FAILED" if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
