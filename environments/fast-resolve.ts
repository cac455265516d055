/**
 * A fast path in front of cdktf's token resolution (cdktf/lib/tokens/private/resolve, reached through
 * `Tokenization.resolve`), installed by prepareSynthProcess.
 *
 * Why: a stack's render resolves every value twice (each element, then the merged document), and
 * cdktf's resolve allocates a context, a path array and two closures per value, and runs up to three
 * regular expressions per string, also for the plain strings, numbers, arrays and objects that make up
 * almost all of our JSON. That was most of the per-service synth cost (scripts/bench.ts, section 3).
 *
 * What: values that cannot hold a token are copied the way cdktf copies them (new arrays and objects,
 * `undefined` dropped from both, everything else as is); anything that may hold a token is handed to
 * cdktf's own resolve with the options cdktf would have passed it at that point, so tokens, lazy
 * values, escapes, errors and their messages are cdktf's. "May hold a token" is decided by cdktf's
 * own tests, widened: a string that contains "TfToken[" or looks like an encoded number anywhere, a
 * number in cdktf's token encoding, an object with a `resolve` method or any other prototype than
 * Object's, a key like those strings, an array holding list-token elements. Six environment
 * configurations render to the same text with and without it (fast-resolve.integration.test.ts);
 * value by value, fast-resolve.test.ts compares it with cdktf's resolve.
 *
 * One kind of token is answered here too: a string that is one whole reference and nothing else
 * ("${TfToken[KEY]}" for a resource attribute, `network.name` and the like; or a depends_on entry).
 * For those cdktf's `Reference` returns `${<identifier>}`, and a `Dependable` of an element the bare
 * identifier, whenever the render is not preparing, the resolver is cdktf's default and the
 * reference has no cross-stack stand-in (tfExpression.js, Reference.resolve, Dependable.resolve).
 * The shortcut returns the same in exactly those cases and leaves every other token to cdktf.
 *
 * And one more: a string that is one whole Terraform function call (`Fn.base64encode(ref)`,
 * `Fn.join("", ["name-", Fn.substr(Fn.sha256(ref), 0, 12)])`: every Swarm secret's data and name)
 * whose arguments are, all the way down, such references, other such calls, plain numbers, lists of
 * these, or short literals of letters, digits and `_.,:/@+= -` (cdktf quotes a literal unless a list
 * already did). cdktf's FunctionCall renders those as `${name(arg, ...)}` (tfExpression.js,
 * FunctionCall.resolve and TFExpression.resolveArg); anything else in a call sends the whole call to
 * cdktf, under the same conditions as the references.
 */
import { TerraformStack, Token } from "cdktf";

interface ResolveOptions {
  readonly prefix?: string[];
  readonly previousContext?: unknown;
  readonly [option: string]: unknown;
}
type Resolve = (obj: unknown, options: ResolveOptions) => unknown;

interface ResolveModule {
  resolve: Resolve;
}
interface EncodingModule {
  extractTokenDouble(x: number, checkTerminator: boolean): number | undefined;
}

/** What the whole-reference shortcut needs from cdktf (cdktfReferences builds it from cdktf's modules). */
export interface ReferenceShortcut {
  /** The token registered under a string token's key (cdktf's TokenMap), if any. */
  readonly tokenFor: (key: string) => unknown;
  /** The prototype of cdktf's Reference (not exported by cdktf: taken from an instance). */
  readonly referencePrototype: object;
  /** The prototype of cdktf's Dependable (depends_on entries; not exported either). */
  readonly dependablePrototype: object;
  /** The prototype of cdktf's DefaultTokenResolver, the one resolver the shortcut answers for. */
  readonly resolverPrototype: object;
  /** The prototype of cdktf's FunctionCall (Fn.*; not exported either). @default no function-call shortcut */
  readonly functionCallPrototype?: object;
}

/** A cdktf Reference, as far as the shortcut reads it. */
interface ReferenceToken {
  readonly identifier: unknown;
  readonly crossStackIdentifier: Record<string, unknown>;
}
/** A cdktf FunctionCall (tfExpression.js): `name(args...)`. */
interface FunctionCallToken {
  readonly name: unknown;
  readonly args: unknown;
}
/** A cdktf Dependable (tfExpression.js): renders its element's fqn with braces suppressed. */
interface DependableToken {
  readonly dependable?: { readonly fqn?: unknown };
}

/** Deeper than this, cdktf reports a circular reference: let it. */
const MAX_DEPTH = 200;
/** Every token marker (string, list and map) holds this. */
const TOKEN_MARK = "TfToken[";
/** A list token's marker (encoding.js BEGIN_LIST_TOKEN_MARKER): cdktf resolves an array holding one as a whole. */
const LIST_TOKEN_MARK = "#{TfToken[";
/** cdktf's pattern for encoded numbers inside strings (encoding.js NUMBER_TOKEN_REGEX), without its global flag. */
const NUMBER_IN_STRING = /[-|\d|.+]+(e[-|\d|.|e|E|+]+)/;
/** A string that is one string token and nothing else (cdktf's markers and VALID_KEY_CHARS, encoding.js). */
const WHOLE_STRING_TOKEN = /^\$\{TfToken\[([a-zA-Z0-9:._-]+)\]\}$/;
/** A Terraform function name as cdktf's Fn writes them. */
const FUNCTION_NAME = /^[a-z][a-z0-9_]*$/;
/** A literal argument the call shortcut writes itself: nothing cdktf would escape or read as a token. */
const SIMPLE_LITERAL = /^[A-Za-z0-9_.,:/@+= -]*$/;
/** Calls nested deeper than this go to cdktf. */
const MAX_CALL_DEPTH = 8;
/** Returned by the walk when a value must go to cdktf. */
const DELEGATE = Symbol("delegate");

/** cdktf's own resolve, per module instance the fast path was installed in. */
const cdktfResolves = new WeakMap<ResolveModule, Resolve>();

function resolveModule(): ResolveModule {
  return require("cdktf/lib/tokens/private/resolve") as ResolveModule;
}

/** Installs the fast path (once per cdktf module instance). */
export function installFastResolve(): void {
  const mod = resolveModule();
  if (cdktfResolves.has(mod)) return;
  cdktfResolves.set(mod, mod.resolve);
  mod.resolve = fastResolve(mod.resolve, require("cdktf/lib/tokens/private/encoding") as EncodingModule, cdktfReferences());
}

/** The shortcut's view of cdktf's token map, Reference and default resolver (this process's cdktf). */
export function cdktfReferences(): ReferenceShortcut | undefined {
  const { TokenMap } = require("cdktf/lib/tokens/private/token-map") as { TokenMap: { instance(): { stringTokenMap?: unknown } } };
  const { ref, dependable, call } = require("cdktf/lib/tfExpression") as {
    ref(identifier: string): object;
    dependable(element: { fqn: string }): string;
    call(name: string, args: unknown[]): object;
  };
  const { DefaultTokenResolver } = require("cdktf/lib/tokens/resolvable") as { DefaultTokenResolver: { prototype: object } };
  const tokens = TokenMap.instance().stringTokenMap;
  // A cdktf whose token map is not where 0.21 keeps it gets no shortcut: everything goes to cdktf.
  if (!(tokens instanceof Map)) return undefined;
  const dependableKey = WHOLE_STRING_TOKEN.exec(dependable({ fqn: "shortcut.probe" }))?.[1];
  const dependableToken = dependableKey === undefined ? undefined : tokens.get(dependableKey);
  if (typeof dependableToken !== "object" || dependableToken === null) return undefined;
  return {
    tokenFor: (key) => tokens.get(key) as unknown,
    referencePrototype: Object.getPrototypeOf(ref("shortcut.probe")) as object,
    dependablePrototype: Object.getPrototypeOf(dependableToken) as object,
    resolverPrototype: DefaultTokenResolver.prototype,
    functionCallPrototype: Object.getPrototypeOf(call("shortcut_probe", [])) as object,
  };
}

/** cdktf's own resolve, whether or not the fast path is installed (for the tests that compare the two). */
export function cdktfResolve(): Resolve {
  const mod = resolveModule();
  return cdktfResolves.get(mod) ?? mod.resolve;
}

/** A string cdktf would return unchanged without looking at a token (see cdktf's resolve, string branch). */
function plainString(s: string): boolean {
  return !s.includes(TOKEN_MARK) && !NUMBER_IN_STRING.test(s) && s !== Token.STRING_MAP_TOKEN_VALUE && s !== Token.ANY_MAP_TOKEN_VALUE;
}

/** The fast resolve in front of cdktf's (`delegate`). Exported for the tests; use installFastResolve. */
export function fastResolve(delegate: Resolve, encoding: EncodingModule, references?: ReferenceShortcut): Resolve {
  // An encoded number (known to the token map or not) goes to cdktf, which resolves it or says why not.
  const plainNumber = (n: number): boolean => n !== Token.NUMBER_MAP_TOKEN_VALUE && encoding.extractTokenDouble(n, false) === undefined;

  /** `value` resolved, or DELEGATE when it (as a whole) must go to cdktf. `path` is the key path below the entry. */
  function walk(value: unknown, path: string[]): unknown {
    switch (typeof value) {
      case "undefined":
      case "boolean":
      case "bigint":
      case "symbol":
        return value;
      case "string":
        return plainString(value) ? value : (wholeTokenRendering(value) ?? DELEGATE);
      case "number":
        return plainNumber(value) ? value : DELEGATE;
      case "function":
        return DELEGATE;
    }
    if (value === null) return null;
    if (path.length >= MAX_DEPTH) return DELEGATE;
    if (Array.isArray(value)) {
      // cdktf resolves an array with a list token element (or an encoded number list) as a whole.
      for (const x of value)
        if (
          (typeof x === "string" && x.includes(LIST_TOKEN_MARK)) ||
          (typeof x === "number" && encoding.extractTokenDouble(x, true) !== undefined)
        )
          return DELEGATE;
      const out: unknown[] = [];
      for (let i = 0; i < value.length; i++) {
        const r = child(value[i], path, `${i}`);
        if (r !== undefined) out.push(r);
      }
      return out;
    }
    const obj = value as Record<string, unknown>;
    const proto = Object.getPrototypeOf(obj) as unknown;
    // Tokens, lazy values, constructs, dates and class instances: cdktf's rules.
    if ((proto !== Object.prototype && proto !== null) || typeof obj.resolve === "function") return DELEGATE;
    const keys = Object.keys(obj);
    for (const key of keys) if (!plainString(key)) return DELEGATE;
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const r = child(obj[key], path, key);
      if (r !== undefined) out[key] = r;
    }
    return out;
  }

  let entryOptions: ResolveOptions = {};
  /** Whether this entry may answer whole references and calls (decided at its first one). */
  let entryShortcut: boolean | undefined;

  function shortcutAllowed(options: ResolveOptions): boolean {
    if (!references || options.preparing) return false;
    const resolver = options.resolver;
    if (typeof resolver !== "object" || resolver === null || Object.getPrototypeOf(resolver) !== references.resolverPrototype) return false;
    // Reference.resolve looks up the stack of the scope and fails without one: then cdktf says so.
    try {
      TerraformStack.of(options.scope as never);
      return true;
    } catch {
      return false;
    }
  }

  /** The token a string is, whole ("${TfToken[KEY]}" and nothing else), if it is registered. */
  function wholeToken(s: string): unknown {
    const key = WHOLE_STRING_TOKEN.exec(s)?.[1];
    return key === undefined ? undefined : references!.tokenFor(key);
  }

  /** The identifier of a plain Reference with no cross-stack stand-in; undefined for anything else. */
  function referenceIdentifier(token: unknown): string | undefined {
    if (typeof token !== "object" || token === null || Object.getPrototypeOf(token) !== references!.referencePrototype) return undefined;
    const { identifier, crossStackIdentifier } = token as ReferenceToken;
    if (typeof identifier !== "string") return undefined;
    for (const _ in crossStackIdentifier) return undefined;
    return identifier;
  }

  /**
   * What cdktf renders for a string that is one whole token of a kind answered here (a reference,
   * a depends_on entry or a function call; see the module comment); undefined for anything else.
   */
  function wholeTokenRendering(s: string): string | undefined {
    if (!references) return undefined;
    const token = wholeToken(s);
    if (typeof token !== "object" || token === null) return undefined;
    const out = referenceRendering(token) ?? callRendering(token);
    if (out === undefined) return undefined;
    entryShortcut ??= shortcutAllowed(entryOptions);
    return entryShortcut ? out : undefined;
  }

  /**
   * A whole plain Reference as `${identifier}`, or a whole Dependable of an element whose fqn is such
   * a Reference as the bare identifier (depends_on); undefined for any other token.
   */
  function referenceRendering(token: object): string | undefined {
    let out: string | undefined;
    if (Object.getPrototypeOf(token) === references!.dependablePrototype) {
      let fqn: unknown;
      try {
        fqn = (token as DependableToken).dependable?.fqn;
      } catch {
        return undefined; // cdktf says why, in its words
      }
      out = typeof fqn === "string" ? referenceIdentifier(wholeToken(fqn)) : undefined;
    } else {
      const identifier = referenceIdentifier(token);
      out = identifier === undefined ? undefined : `\${${identifier}}`;
    }
    return out !== undefined && plainString(out) ? out : undefined;
  }

  /** A whole function call of the covered kind as `${name(arg, ...)}`; undefined for any other token. */
  function callRendering(token: object): string | undefined {
    const expr = callExpression(token, 0);
    return expr === undefined ? undefined : `\${${expr}}`;
  }

  /** The identifier a plain Reference renders to inside an expression (no braces); undefined for any other token. */
  function referenceInExpression(token: unknown): string | undefined {
    const identifier = referenceIdentifier(token);
    return identifier !== undefined && plainString(identifier) ? identifier : undefined;
  }

  /** `name(arg, ...)` as cdktf's FunctionCall writes it inside an expression; undefined when cdktf must. */
  function callExpression(token: unknown, depth: number): string | undefined {
    // Without a FunctionCall prototype (an older cdktf) nothing matches: every call goes to cdktf.
    if (depth > MAX_CALL_DEPTH || typeof token !== "object" || token === null) return undefined;
    if (Object.getPrototypeOf(token) !== references!.functionCallPrototype) return undefined;
    const { name, args } = token as FunctionCallToken;
    if (typeof name !== "string" || !FUNCTION_NAME.test(name) || !Array.isArray(args)) return undefined;
    const parts: string[] = [];
    for (const arg of args) {
      const part = callArgument(arg, depth, true);
      if (part === undefined) return undefined;
      parts.push(part);
    }
    const expr = `${name}(${parts.join(", ")})`;
    return plainString(expr) ? expr : undefined;
  }

  /** One argument as TFExpression.resolveArg writes it (see the module comment for what is covered). */
  function callArgument(arg: unknown, depth: number, listAllowed: boolean): string | undefined {
    if (typeof arg === "number") return Number.isFinite(arg) && plainNumber(arg) ? String(arg) : undefined;
    if (Array.isArray(arg)) {
      if (!listAllowed) return undefined;
      const parts: string[] = [];
      for (const item of arg) {
        const part = typeof item === "string" || typeof item === "number" ? callArgument(item, depth, false) : undefined;
        if (part === undefined) return undefined;
        parts.push(part);
      }
      return `[${parts.join(", ")}]`;
    }
    if (typeof arg !== "string") return undefined;
    if (plainString(arg)) {
      // cdktf keeps a literal that a list already quoted, and quotes any other.
      if (arg.length >= 2 && arg.startsWith('"') && arg.endsWith('"')) return SIMPLE_LITERAL.test(arg.slice(1, -1)) ? arg : undefined;
      return SIMPLE_LITERAL.test(arg) ? `"${arg}"` : undefined;
    }
    const token = wholeToken(arg);
    return referenceInExpression(token) ?? callExpression(token, depth + 1);
  }

  /** One child: walked, or resolved by cdktf with the prefix cdktf would have reached it with. */
  function child(value: unknown, path: string[], key: string): unknown {
    path.push(key);
    try {
      const r = walk(value, path);
      return r === DELEGATE ? delegate(value, { ...entryOptions, prefix: [...path] }) : r;
    } finally {
      path.pop();
    }
  }

  return function resolve(obj: unknown, options: ResolveOptions): unknown {
    // Only entries from Tokenization.resolve (no prefix, no context) take the fast path.
    if ((options.prefix !== undefined && options.prefix.length > 0) || options.previousContext !== undefined) return delegate(obj, options);
    const outer = entryOptions;
    const outerShortcut = entryShortcut;
    entryOptions = options;
    entryShortcut = undefined;
    try {
      const r = walk(obj, []);
      return r === DELEGATE ? delegate(obj, options) : r;
    } finally {
      entryOptions = outer;
      entryShortcut = outerShortcut;
    }
  };
}
