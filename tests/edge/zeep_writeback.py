#!/usr/bin/env python3
"""A stock SOAP client (zeep) against ronghe's write-back WSDL (issue 19).

Loads the WSDL of a running ronghe, builds a case record from the WSDL's XSD with zeep's type
factory (never raw XML), signs each request exactly as the README says (over the bytes zeep
sends, in a requests auth hook), pushes it through zeep and checks the answer: `accepted` with a
`WB-` receipt, then the same record again: `duplicate` with the same receipt.

    python tests/edge/zeep_writeback.py --base http://127.0.0.1:PORT --system SYSTEM \
        --key-id ID --secret SECRET [--algorithm hmac-sha256|hmac-sm3] [--binding soap11|soap12] \
        [--values FILE.json]

Against the demo (`ronghe demo --dir DIR --listen 127.0.0.1:PORT --cases 40`; sim-soap is the
system with SOAP write-back, its key in the demo directory):

    DIR=$(mktemp -d)/demo PORT=18080
    target/debug/ronghe demo --dir "$DIR" --listen 127.0.0.1:$PORT --cases 40 > "$DIR.log" 2>&1 &
    DEMO=$!; trap 'kill $DEMO' EXIT
    for _ in $(seq 1 300); do   # the journey is over once the demo prints how to use its CLI
      grep -q "the CLI on this demo" "$DIR.log" 2>/dev/null && break; sleep 1
    done
    WB="$DIR/integration/sim-soap/writeback.toml"
    KEY_ID=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["keys"][0]["id"])' "$WB")
    ALGORITHM=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["keys"][0]["algorithm"])' "$WB")
    SECRET=$(cat "$DIR/integration/sim-soap/writeback.key")
    python tests/edge/zeep_writeback.py --base "http://127.0.0.1:$PORT" --system sim-soap \
        --key-id "$KEY_ID" --secret "$SECRET" --algorithm "$ALGORITHM"

Values come from `sample_values` by element or attribute local name (the names of the shipped sim-soap
mapping); `--values` adds or replaces some (a JSON object, name -> value). A required element
without a value fails the run and names it. Exit 0 when every check passed; the last line is
`zeep: N passed, M failed`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import secrets
import struct
import sys
import time
import traceback
from urllib.parse import urlsplit

import requests
import zeep
from zeep.exceptions import Fault
from zeep.xsd import ComplexType

NAMESPACE = "urn:ronghe:writeback"
BEIJING = dt.timezone(dt.timedelta(hours=8))


# --- Signing, as the README's "Signing (签名)" says -------------------------------------------


def _rotl(x: int, n: int) -> int:
    n %= 32
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


def sm3(data: bytes) -> bytes:
    """SM3 (GB/T 32905), for Pythons whose OpenSSL has none."""
    v = [0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600, 0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E]
    padded = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack(">Q", len(data) * 8)
    for at in range(0, len(padded), 64):
        w = list(struct.unpack(">16I", padded[at : at + 64]))
        for j in range(16, 68):
            x = w[j - 16] ^ w[j - 9] ^ _rotl(w[j - 3], 15)
            w.append((x ^ _rotl(x, 15) ^ _rotl(x, 23)) ^ _rotl(w[j - 13], 7) ^ w[j - 6])
        w1 = [w[j] ^ w[j + 4] for j in range(64)]
        a, b, c, d, e, f, g, h = v
        for j in range(64):
            t = 0x79CC4519 if j < 16 else 0x7A879D8A
            ss1 = _rotl((_rotl(a, 12) + e + _rotl(t, j)) & 0xFFFFFFFF, 7)
            ss2 = ss1 ^ _rotl(a, 12)
            ff = a ^ b ^ c if j < 16 else (a & b) | (a & c) | (b & c)
            gg = e ^ f ^ g if j < 16 else (e & f) | (~e & g)
            tt1 = (ff + d + ss2 + w1[j]) & 0xFFFFFFFF
            tt2 = (gg + h + ss1 + w[j]) & 0xFFFFFFFF
            a, b, c, d = tt1, a, _rotl(b, 9), c
            e, f, g, h = tt2 ^ _rotl(tt2, 9) ^ _rotl(tt2, 17), e, _rotl(f, 19), g
        v = [x ^ y for x, y in zip(v, (a, b, c, d, e, f, g, h))]
    return struct.pack(">8I", *v)


def hmac_sm3(key: bytes, message: bytes) -> bytes:
    try:
        return hmac.new(key, message, "sm3").digest()
    except ValueError:  # no SM3 in this Python's OpenSSL
        if len(key) > 64:
            key = sm3(key)
        key = key.ljust(64, b"\x00")
        inner = sm3(bytes(k ^ 0x36 for k in key) + message)
        return sm3(bytes(k ^ 0x5C for k in key) + inner)


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()])


def signature(algorithm: str, secret: bytes, message: str) -> str:
    if algorithm == "hmac-sha256":
        return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()
    if algorithm == "hmac-sm3":
        return hmac_sm3(secret, message.encode()).hex()
    raise ValueError(f"unknown algorithm {algorithm!r}: hmac-sha256 or hmac-sm3")


class RongheSigner(requests.auth.AuthBase):
    """Signs each POST over its final body, the bytes requests will send."""

    def __init__(self, key_id: str, secret: bytes, algorithm: str):
        self.key_id, self.secret, self.algorithm = key_id, secret, algorithm

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if request.method != "POST":
            return request
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
            request.body = body
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        path = urlsplit(request.url).path  # the path as sent, no query
        message = string_to_sign("POST", path, timestamp, nonce, body)
        request.headers["X-Ronghe-Key-Id"] = self.key_id
        request.headers["X-Ronghe-Timestamp"] = timestamp
        request.headers["X-Ronghe-Nonce"] = nonce
        request.headers["X-Ronghe-Signature"] = signature(self.algorithm, self.secret, message)
        return request


# --- A record built from the XSD --------------------------------------------------------------


def sample_values(case_no: str) -> dict:
    """A valid completed case under the names of the shipped sim-soap mapping."""
    now = dt.datetime.now(BEIJING).replace(microsecond=0)
    applied = (now - dt.timedelta(days=20)).replace(hour=9, minute=30, second=0)
    accepted = applied + dt.timedelta(minutes=30)
    finished = (now - dt.timedelta(days=2)).replace(hour=15, minute=0, second=0)
    return {
        "办件编号": case_no,
        "版本号": 1,
        "事项编码": "11520000009390240A4520117005000",
        "事项名称": "城乡居民基本养老保险待遇申领",
        "行政区划": "520102",
        "姓名": "张三",
        "类型": "1",
        "证件类型": "111",
        "证件号码": "52010219900101123X",
        "联系电话": "13812345678",
        "受理部门": "贵阳市南明区人力资源和社会保障局",
        "代码": "11520000009390240A",
        "申请日期": applied,
        "受理时间": accepted,
        "受理人": "李四",
        "承诺时限": 10,
        "办理状态": "09",
        "审核意见": "材料齐全,同意",
        "待遇核定编号": f"DY-{case_no}",
        "办结时间": finished,
        "更新时间": finished,
    }


def typed(value, xsd_type, name: str):
    """`value` as the Python value zeep serialises for the simple type `xsd_type`."""
    kind = getattr(xsd_type, "name", None) or type(xsd_type).__name__
    if kind == "dateTime" and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return value.date() if isinstance(value, dt.datetime) else dt.date.fromisoformat(str(value))
    if kind in ("long", "int", "integer", "unsignedInt", "nonNegativeInteger"):
        return int(value)
    if kind == "string" and not isinstance(value, str):
        return value.isoformat() if isinstance(value, dt.datetime) else str(value)
    return value


class Missing(Exception):
    pass


def build(xsd_type: ComplexType, values: dict, where: str):
    """A value of the complex type `xsd_type` from `values`, element by element as the XSD says."""
    fields = {}
    for name, attribute in xsd_type.attributes:
        if name in values:
            fields[name] = typed(values[name], attribute.type, name)
        elif getattr(attribute, "required", False):
            raise Missing(f"{where}/@{name}")
    for name, element in xsd_type.elements:
        if name == "_value_1":  # simple content: the element's own text
            fields[name] = typed(values[where.rsplit("/", 1)[-1]], element.type, name)
            continue
        child_type = element.type
        if isinstance(child_type, ComplexType):
            try:
                fields[name] = build(child_type, values, f"{where}/{name}")
            except Missing:
                if element.min_occurs:
                    raise
        elif name in values:
            fields[name] = typed(values[name], child_type, name)
        elif element.min_occurs:
            raise Missing(f"{where}/{name}")
    if not fields:
        raise Missing(where)
    return xsd_type(**fields)


# --- The run ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="ronghe's base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--system", required=True)
    parser.add_argument("--key-id", required=True)
    parser.add_argument("--secret", required=True, help="the key's shared secret (its UTF-8 bytes are the HMAC key)")
    parser.add_argument("--algorithm", default="hmac-sha256", choices=["hmac-sha256", "hmac-sm3"])
    parser.add_argument("--binding", default="soap11", choices=["soap11", "soap12"])
    parser.add_argument("--values", help="a JSON object: element or attribute local name -> value")
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()

    passed, failed = 0, 0

    def check(name: str, ok: bool, detail: str) -> bool:
        nonlocal passed, failed
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        passed, failed = passed + ok, failed + (not ok)
        return ok

    def finish() -> int:
        print(f"zeep: {passed} passed, {failed} failed")
        return 0 if failed == 0 and passed == 2 else 1

    base = args.base.rstrip("/")
    endpoint = f"{base}/soap/{args.system}/writeback"
    session = requests.Session()
    session.auth = RongheSigner(args.key_id, args.secret.encode("utf-8"), args.algorithm)
    try:
        client = zeep.Client(
            f"{endpoint}?wsdl",
            transport=zeep.Transport(session=session, timeout=args.timeout, operation_timeout=args.timeout),
        )
        record_type = client.get_type(f"{{{NAMESPACE}}}CaseRecord")
    except Exception as e:  # noqa: BLE001 - any failure to load is the run's failure
        print(f"FAIL wsdl: cannot load a typed record from {endpoint}?wsdl: {e!r}")
        failed = 2
        return finish()
    binding = {"soap11": "WritebackSoap11", "soap12": "WritebackSoap12"}[args.binding]
    declared = client.wsdl.services["Writeback"].ports[binding].binding_options["address"]
    print(f"wsdl: {endpoint}?wsdl, typed record CaseRecord, the WSDL's address {declared}")
    if urlsplit(declared).path != urlsplit(endpoint).path:
        print(f"FAIL wsdl: the address {declared} is not this system's endpoint {endpoint}")
        failed = 2
        return finish()
    service = client.create_service(f"{{{NAMESPACE}}}{binding}", endpoint)

    case_no = f"ZEEP-{int(time.time())}-{secrets.token_hex(3)}"
    values = sample_values(case_no)
    if args.values:
        with open(args.values, encoding="utf-8") as f:
            values.update(json.load(f))
    record_element = client.get_element(f"{{{NAMESPACE}}}pushCases").type.elements[0][0]
    try:
        record = build(record_type, values, record_element)
    except Missing as e:
        print(f"FAIL record: the XSD requires {e} and no value is given (add it with --values)")
        failed = 2
        return finish()

    def push():
        answer = service.pushCases(**{record_element: [record]})
        records = getattr(answer, "record", answer)
        return list(records or [])

    first = None
    for name, expected in [("accepted", "accepted"), ("duplicate", "duplicate")]:
        try:
            records = push()
        except Fault as e:
            code = e.detail.findtext(f".//{{{NAMESPACE}}}code") if e.detail is not None else None
            check(name, False, f"SOAP fault {e.code} ({code}): {e.message}")
            continue
        except Exception:  # noqa: BLE001
            check(name, False, traceback.format_exc(limit=3))
            continue
        if len(records) != 1:
            check(name, False, f"{len(records)} records answered: {records}")
            continue
        got = records[0]
        reasons = [f"{r.code}: {r._value_1}" for r in (got.reason or [])]
        receipt = got.receipt or ""
        if expected == "accepted":
            ok = got.result == "accepted" and receipt.startswith("WB-")
            first = receipt if ok else None
        else:
            ok = got.result == "duplicate" and first is not None and receipt == first
        check(
            name,
            ok,
            f"case {case_no}: result={got.result} outcome={got.outcome} receipt={receipt} {reasons or ''}",
        )
    return finish()


if __name__ == "__main__":
    sys.exit(main())
