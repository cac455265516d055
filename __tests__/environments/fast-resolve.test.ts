/**
 * environments/fast-resolve.ts must resolve everything exactly as cdktf's own resolve does: same
 * result, same error. Each case runs both on the same input: cdktf's own resolve, and the fast path
 * with cdktf's resolve behind it, as installFastResolve wires it.
 */
import { Fn, Lazy, TerraformResource, TerraformStack, Testing, Token, Tokenization } from "cdktf";
import { RememberingTokenResolver } from "cdktf/lib/tokens/private/resolve";
import { DefaultTokenResolver, StringConcat } from "cdktf/lib/tokens/resolvable";
import { describe, expect, it } from "vitest";
import { cdktfReferences, cdktfResolve as cdktfOwnResolve, fastResolve } from "../../environments/fast-resolve";

type Resolve = (obj: unknown, options: Record<string, unknown>) => unknown;
// The unit tier runs on the fast path (__tests__/setup-unit.ts): compare with cdktf's own.
const cdktfResolve = cdktfOwnResolve() as Resolve;
const encoding = require("cdktf/lib/tokens/private/encoding") as { extractTokenDouble(x: number, t: boolean): number | undefined };

const app = Testing.app();
const stack = new TerraformStack(app, "fast-resolve");
const references = cdktfReferences();
const { ref, dependable } = require("cdktf/lib/tfExpression") as {
  ref(id: string, stack?: TerraformStack): object;
  dependable(e: { fqn: string }): string;
};
/** What Tokenization.resolve passes (TerraformStack.resolve → Tokenization.resolve). */
const options = () => ({ scope: stack, resolver: new DefaultTokenResolver(new StringConcat()), preparing: false });

/** Counts how often the fast path hands a value to cdktf. */
function counted(shortcut?: typeof references) {
  const calls: unknown[] = [];
  const fast = fastResolve(
    (obj, opts) => {
      calls.push(obj);
      return cdktfResolve(obj, opts);
    },
    encoding,
    shortcut,
  );
  return { fast, calls };
}

function outcome(
  resolve: Resolve,
  value: () => unknown,
  opts: () => Record<string, unknown> = options,
): { value?: unknown; error?: string } {
  try {
    return { value: resolve(value(), opts()) };
  } catch (e) {
    // Each side builds its own tokens, so their numbers differ; the message must not otherwise.
    return { error: (e as Error).message.replace(/TOKEN\.\d+/g, "TOKEN.n") };
  }
}

/**
 * cdktf and the fast path, without and with the whole-reference shortcut (as installFastResolve
 * wires it), resolve `value` (built afresh for each) to the same result or the same error; returns
 * the fast path's.
 */
function same(value: () => unknown, opts: () => Record<string, unknown> = options): { value?: unknown; error?: string } {
  const expected = outcome(cdktfResolve, value, opts);
  const got = outcome(fastResolve(cdktfResolve, encoding), value, opts);
  expect(got).toEqual(expected);
  expect(outcome(fastResolve(cdktfResolve, encoding, references), value, opts), "with the reference shortcut").toEqual(expected);
  return got;
}

const lazy = (v: unknown) => Lazy.anyValue({ produce: () => v });

describe("fast resolve: plain values", () => {
  it("copies plain JSON without calling cdktf, dropping undefined from objects and arrays as cdktf does", () => {
    const input = { a: 1, b: "x", c: [1, undefined, "y", null, true], d: undefined, e: { f: { g: [] } }, h: null, i: false, j: 0 };
    const r = same(() => input);
    expect(r.value).toEqual({ a: 1, b: "x", c: [1, "y", null, true], e: { f: { g: [] } }, h: null, i: false, j: 0 });
    const { fast, calls } = counted();
    const out = fast(input, options()) as typeof input;
    expect(calls).toEqual([]);
    // Fresh containers, as cdktf returns: a caller that merges into the result does not write into the input.
    expect(out).not.toBe(input);
    expect(out.e).not.toBe(input.e);
    expect(out.c).not.toBe(input.c);
  });

  it("keeps the nasty strings as they are: ${, %{, quotes, backslashes, newlines, unicode", () => {
    for (const s of ["${var.x}", "%{ if true }x%{ endif }", '"quoted"', "it's", "a\\b", "line\nnext\r\n", "ü€😀", "${", "}", "$${x}", ""])
      expect(same(() => ({ [s]: s, list: [s] })).value).toEqual({ [s]: s, list: [s] });
  });

  it("leaves strings that look like encoded numbers, and odd numbers, to the same outcome", () => {
    for (const s of ["1e5", "sha256:9e3f1e2", "-e-1", "1.5e+10", "-1.8881545897087626e+289"]) same(() => ({ s, l: [s] }));
    for (const n of [0, -0, 1e308, -1e-308, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER, -1.8881545897087626e289])
      same(() => ({ n, l: [n] }));
  });

  it("Object.create(null), holes, getters and __proto__ keys come out as cdktf makes them", () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    same(() => ({ bare }));
    // biome-ignore lint: a sparse array on purpose
    same(() => [1, , 3]); // eslint-disable-line no-sparse-arrays
    same(() => ({
      get g() {
        return "got";
      },
    }));
    same(() => JSON.parse('{"__proto__": {"polluted": true}, "a": 1}'));
  });
});

describe("fast resolve: tokens go to cdktf", () => {
  it("resolves string, number, list and map tokens anywhere in a tree", () => {
    const r = same(() => ({
      s: Token.asString(lazy("str")),
      inString: `pre-${Token.asString(lazy("mid"))}-post`,
      n: Token.asNumber(lazy(42)),
      numberInString: `port ${Token.asNumber(lazy(8080))}`,
      l: Token.asList(lazy(["a", "b"])),
      m: Token.asStringMap(lazy({ k: "v" })),
      nested: { deeper: [{ x: Token.asString(lazy("deep")) }, "plain"] },
      fn: Fn.join(",", ["a", Token.asString(lazy("b"))]),
      resolvable: lazy({ inner: [1, undefined, Token.asString(lazy("in"))] }),
    }));
    expect(r.value).toMatchObject({ s: "str", inString: "pre-mid-post", n: 42, numberInString: "port 8080", l: ["a", "b"], m: { k: "v" } });
    expect((r.value as { nested: unknown }).nested).toEqual({ deeper: [{ x: "deep" }, "plain"] });
  });

  it("hands only the token-bearing values to cdktf, with the key path cdktf would have reached them by", () => {
    const seen: string[][] = [];
    const fast = fastResolve((obj, opts) => {
      seen.push([...((opts.prefix as string[] | undefined) ?? [])]);
      return cdktfResolve(obj, opts);
    }, encoding);
    fast({ plain: { a: 1 }, list: ["x", { t: Token.asString(lazy("v")) }] }, options());
    expect(seen).toEqual([["list", "1", "t"]]);
  });

  it("a call from inside cdktf's resolution (with a key path or a context) goes to cdktf whole", () => {
    const { fast, calls } = counted();
    const value = { plain: 1 };
    fast(value, { ...options(), prefix: ["resource"] });
    fast(value, { ...options(), previousContext: {} });
    expect(calls).toEqual([value, value]);
  });

  it("tokens in keys, and Terraform expressions next to escapes, resolve as cdktf resolves them", () => {
    same(() => ({ [Token.asString(lazy("key"))]: "v" }));
    same(() => ({ m: { [Token.asString(lazy("k"))]: 1, plain: 2 } }));
    same(() => ({ e: `\${var.x} and ${Token.asString(lazy("t"))} and %{ if x }y%{ endif }` }));
    same(() => ({ e: Fn.lookup(Token.asAnyMap(lazy({ a: 1 })), "a", "${x}") }));
  });

  it("an array with a list token element is resolved by cdktf as a whole", () => {
    const { fast, calls } = counted();
    const list = Token.asList(lazy(["a", "b"]));
    expect(fast({ arr: list }, options())).toEqual({ arr: ["a", "b"] });
    expect(calls).toEqual([list]);
    same(() => ({ arr: Token.asList(lazy(["a"])) }));
    // cdktf refuses other elements beside a list token; so does the fast path (it is cdktf's error).
    expect(same(() => ({ arr: [...Token.asList(lazy(["a"])), "b"] })).error).toMatch(/Cannot add elements to list token/);
  });

  it("class instances, dates and resolvables keep cdktf's handling", () => {
    class Box {
      readonly v = 1;
    }
    same(() => ({ box: new Box() }));
    same(() => ({ when: new Date(0) }));
    same(() => ({ r: { resolve: () => "by resolve()" } }));
  });
});

const resource = new TerraformResource(stack, "thing", { terraformResourceType: "null_resource" });

describe("fast resolve: whole references", () => {
  it("finds cdktf's Reference, Dependable and default resolver in this process", () => {
    expect(references).toBeDefined();
  });

  it("a resource attribute, a local and a depends_on entry render as cdktf renders them, without calling cdktf", () => {
    const value = () => ({
      id: resource.getStringAttribute("id"),
      local: Token.asString(ref("local.x", stack)),
      list: ["a", resource.getStringAttribute("name"), "b"],
      depends_on: [dependable(resource)],
    });
    const r = same(value);
    expect(r.value).toEqual({
      id: "${null_resource.thing.id}",
      local: "${local.x}",
      list: ["a", "${null_resource.thing.name}", "b"],
      depends_on: ["null_resource.thing"],
    });
    const { fast, calls } = counted(references);
    fast(value(), options());
    expect(calls).toEqual([]);
  });

  it("a reference inside other text, or in a key, still goes to cdktf", () => {
    const { fast, calls } = counted(references);
    const inText = `x-${resource.getStringAttribute("id")}`;
    const key = resource.getStringAttribute("id");
    fast({ inText, m: { [key]: 1 } }, options());
    expect(calls).toHaveLength(2);
    same(() => ({ inText: `x-${resource.getStringAttribute("id")}`, m: { [resource.getStringAttribute("id")]: 1 } }));
  });

  it("a cross-stack stand-in, a preparing render, another resolver or a scope with no stack: cdktf decides", () => {
    // A reference that a preparing render has tied to another stack's output.
    const crossed = () => {
      const s = Token.asString(ref("local.elsewhere", stack));
      const token = Tokenization.reverseString(s).firstToken as unknown as { crossStackIdentifier: Record<string, string> };
      token.crossStackIdentifier[stack.toString()] = "data.terraform_remote_state.other.outputs.x";
      return { v: s };
    };
    expect(same(crossed).value).toEqual({ v: "${data.terraform_remote_state.other.outputs.x}" });
    const cases: [string, () => Record<string, unknown>][] = [
      ["preparing", () => ({ ...options(), preparing: true })],
      ["remembering resolver", () => ({ ...options(), resolver: new RememberingTokenResolver(new StringConcat()) })],
      ["the app as scope", () => ({ ...options(), scope: app })],
    ];
    for (const [name, opts] of cases) {
      const { fast, calls } = counted(references);
      try {
        fast({ v: resource.getStringAttribute("id") }, opts());
      } catch {
        // the app as scope: cdktf's own error, compared below
      }
      expect(calls, name).toHaveLength(1);
      same(() => ({ v: resource.getStringAttribute("id"), d: [dependable(resource)] }), opts);
    }
  });

  it("identifiers that look like tokens or encoded numbers go to cdktf; other odd ones render as cdktf renders them", () => {
    for (const [id, toCdktf] of [
      ["local.x1e5", 1],
      ["local.TfToken[x", 1],
      ["local.${y}", 0],
      ['local."q"\n', 0],
    ] as const) {
      const { fast, calls } = counted(references);
      fast({ v: Token.asString(ref(id, stack)) }, options());
      expect(calls, id).toHaveLength(toCdktf);
      same(() => ({ v: Token.asString(ref(id, stack)) }));
    }
  });
});

describe("fast resolve: whole function calls", () => {
  const id = () => resource.getStringAttribute("id");
  /** The Swarm runtime's secret name and data (constructs/kit/swarm-runtime.ts, contentName and base64Of). */
  const swarmSecret = () => ({
    name: Fn.join("", ["prod-api-database_url-", Fn.substr(Fn.sha256(id()), 0, 12)]),
    data: Fn.base64encode(id()),
  });

  it("calls of references, nested calls, numbers, lists and short literals render as cdktf renders them, without calling cdktf", () => {
    const value = () => ({
      ...swarmSecret(),
      local: Fn.base64encode(Token.asString(ref("local.x", stack))),
      literals: Fn.join(", ", ["a", "B-1_2.c", "x:y/z@w+v=u", "", "sp ace"]),
      numbers: Fn.substr(id(), -1, 1.5),
      list: [Fn.lower(id()), "plain"],
      // Variadic arguments arrive quoted already (helpers.js listOf): cdktf keeps those quotes.
      quoted: Fn.coalesce(["a", "b-1", id()]),
    });
    expect(same(value).value).toEqual({
      name: '${join("", ["prod-api-database_url-", substr(sha256(null_resource.thing.id), 0, 12)])}',
      data: "${base64encode(null_resource.thing.id)}",
      local: "${base64encode(local.x)}",
      literals: '${join(", ", ["a", "B-1_2.c", "x:y/z@w+v=u", "", "sp ace"])}',
      numbers: "${substr(null_resource.thing.id, -1, 1.5)}",
      list: ["${lower(null_resource.thing.id)}", "plain"],
      quoted: '${coalesce("a", "b-1", null_resource.thing.id)}',
    });
    const { fast, calls } = counted(references);
    fast(value(), options());
    expect(calls).toEqual([]);
  });

  it("a call holding anything else goes to cdktf whole, and comes out as cdktf writes it", () => {
    const cases: [string, () => string][] = [
      ["a literal with ${", () => Fn.join("", ["${x}", id()])],
      ["a literal with %{", () => Fn.join("", ["%{ if a }b%{ endif }", id()])],
      ["a literal with a newline", () => Fn.join("\n", [id()])],
      ["a literal with a backslash", () => Fn.join("\\", [id()])],
      ["a literal with a quote", () => Fn.join('\\"', [id()])],
      ["a literal that looks like a number token", () => Fn.join("1e5", [id()])],
      ["unicode", () => Fn.join("ü", [id()])],
      ["a quoted variadic literal with a quote inside", () => Fn.coalesce(['x"y', id()])],
      ["a quoted variadic literal with ${", () => Fn.coalesce(["${x}", id()])],
      ["a lone quote", () => Fn.coalesce(['"'])],
      ["a lazy value", () => Fn.base64encode(Token.asString(lazy("v")))],
      ["a number token", () => Fn.substr(id(), Token.asNumber(lazy(3)), 1)],
      ["a list token", () => Fn.join(",", Token.asList(lazy(["a"])))],
      ["a map", () => Fn.lookup(Token.asAnyMap(lazy({ a: 1 })), "a", "d")],
      ["a huge number", () => Fn.substr(id(), 1e21, 1)],
      ["a reference in text", () => Fn.base64encode(`pre-${id()}`)],
      ["a depends_on entry", () => Fn.base64encode(dependable(resource))],
      ["the local of a cross-stack stand-in", () => Fn.base64encode(crossedRef())],
      [
        "calls nested deeper than 8",
        () => {
          let v = id();
          for (let i = 0; i < 10; i++) v = Fn.base64encode(v);
          return v;
        },
      ],
    ];
    for (const [name, call] of cases) {
      const { fast, calls } = counted(references);
      try {
        fast({ v: call() }, options());
      } catch {
        // cdktf's own error, compared below
      }
      expect(calls, name).toHaveLength(1);
      same(() => ({ v: call() }));
    }
    // A call inside other text is cdktf's too.
    const { fast, calls } = counted(references);
    fast({ v: `x-${Fn.base64encode(id())}` }, options());
    expect(calls).toHaveLength(1);
  });

  it("nested calls up to the depth limit are still answered here", () => {
    let v = id();
    for (let i = 0; i < 8; i++) v = Fn.base64encode(v);
    const nested = v;
    expect(same(() => ({ v: nested })).value).toEqual({ v: `\${${"base64encode(".repeat(8)}null_resource.thing.id${")".repeat(8)}}` });
    const { fast, calls } = counted(references);
    fast({ v: nested }, options());
    expect(calls).toEqual([]);
  });

  it("preparing, another resolver or a scope with no stack: cdktf decides", () => {
    for (const opts of [
      () => ({ ...options(), preparing: true }),
      () => ({ ...options(), resolver: new RememberingTokenResolver(new StringConcat()) }),
      () => ({ ...options(), scope: app }),
    ]) {
      for (const v of Object.values(swarmSecret())) {
        const { fast, calls } = counted(references);
        try {
          fast({ v }, opts());
        } catch {
          // the app as scope: cdktf's own error, compared below
        }
        expect(calls).toHaveLength(1);
      }
      same(swarmSecret, opts);
    }
  });
});

/** A reference that a preparing render has tied to another stack's output. */
function crossedRef(): string {
  const s = Token.asString(ref("local.elsewhere", stack));
  const token = Tokenization.reverseString(s).firstToken as unknown as { crossStackIdentifier: Record<string, string> };
  token.crossStackIdentifier[stack.toString()] = "data.terraform_remote_state.other.outputs.x";
  return s;
}

describe("fast resolve: errors are cdktf's", () => {
  it("functions, a list token in a string, map-token placeholders", () => {
    expect(same(() => ({ f: () => 1 })).error).toBeDefined();
    expect(same(() => ({ s: Token.asList(lazy(["a"]))[0] })).error).toMatch(/list/i);
    expect(same(() => ({ s: Token.STRING_MAP_TOKEN_VALUE })).error).toBeDefined();
    expect(same(() => ({ n: Token.NUMBER_MAP_TOKEN_VALUE })).error).toBeDefined();
  });

  it("a tree deeper than cdktf's limit fails with cdktf's message", () => {
    const deep = () => {
      let v: unknown = "leaf";
      for (let i = 0; i < 260; i++) v = { k: v };
      return v;
    };
    expect(same(deep).error).toMatch(/circular/i);
  });

  it("a construct inside a value is refused", () => {
    expect(same(() => ({ c: stack })).error).toBeDefined();
  });
});

describe("fast resolve: random trees", () => {
  /** A small seeded generator (mulberry32), so a failure names a seed that reproduces it. */
  function rng(seed: number) {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const STRINGS = ["", "x", "${a}", "%{b}", '"', "\n", "1e3", "TfToken[", "${TfToken[TOKEN.999999]}", "a b"];
  function tree(r: () => number, depth: number): unknown {
    const pick = Math.floor(r() * (depth > 4 ? 7 : 10));
    switch (pick) {
      case 0:
        return STRINGS[Math.floor(r() * STRINGS.length)];
      case 1:
        return Math.floor(r() * 1000) - 500;
      case 2:
        return r() < 0.5 ? undefined : null;
      case 3:
        return Token.asString(lazy(STRINGS[Math.floor(r() * STRINGS.length)]));
      case 4:
        return Token.asNumber(lazy(Math.floor(r() * 10)));
      case 5:
        return r() < 0.5
          ? `${STRINGS[Math.floor(r() * STRINGS.length)]}${Token.asString(lazy("t"))}`
          : `${STRINGS[Math.floor(r() * STRINGS.length)]}:${Token.asNumber(lazy(7))}`;
      case 6:
        return r() < 0.5 ? Token.asString(ref(`local.${STRINGS[Math.floor(r() * STRINGS.length)]}`, stack)) : dependable(resource);
      case 7:
        if (r() < 0.3) return call(r, depth);
        return Array.from({ length: Math.floor(r() * 4) }, () => tree(r, depth + 1));
      case 8:
        return lazy(tree(r, depth + 1));
      default:
        return Object.fromEntries(
          Array.from({ length: Math.floor(r() * 4) }, (_, i) => [`${STRINGS[i % STRINGS.length]}k${i}`, tree(r, depth + 1)]),
        );
    }
  }

  /** A function call of literals (nasty ones included), references, numbers and other calls. */
  function call(r: () => number, depth: number): string {
    const arg = (): string => {
      const pick = Math.floor(r() * (depth > 3 ? 3 : 4));
      if (pick === 0) return STRINGS[Math.floor(r() * STRINGS.length)]!;
      if (pick === 1) return ["a-b", "x.y_1", "", "9"][Math.floor(r() * 4)]!;
      if (pick === 2) return r() < 0.5 ? resource.getStringAttribute("id") : Token.asString(ref("local.v", stack));
      return call(r, depth + 1);
    };
    switch (Math.floor(r() * 4)) {
      case 0:
        return Fn.base64encode(arg());
      case 1:
        return Fn.join(arg(), Array.from({ length: Math.floor(r() * 3) }, arg));
      case 2:
        return Fn.substr(arg(), Math.floor(r() * 20) - 5, r() < 0.2 ? r() : 12);
      default:
        return Fn.sha256(arg());
    }
  }

  it("300 trees of plain values, tokens, references, function calls and lazy values resolve the same", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const value = () => tree(rng(seed), 0);
      const expected = outcome(cdktfResolve, value);
      expect(outcome(fastResolve(cdktfResolve, encoding), value), `seed ${seed}`).toEqual(expected);
      expect(outcome(fastResolve(cdktfResolve, encoding, references), value), `seed ${seed}, with the shortcut`).toEqual(expected);
    }
  });
});

it("the unit tier renders on the fast path, as main.ts does (__tests__/setup-unit.ts)", () => {
  const installed = (require("cdktf/lib/tokens/private/resolve") as { resolve: Resolve }).resolve;
  expect(installed).not.toBe(cdktfResolve);
});
