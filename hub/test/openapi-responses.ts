// Checks HTTP responses of the API tests against the hub's own OpenAPI document (/api/openapi.json):
// the status must be one the operation declares, and a JSON body must match that response's schema
// (ajv, an independent validator). The test API clients (core-helpers apiFor, people-hub api) call
// `checkResponse` on every response, so a route that answers what its document does not say fails
// the test that saw it.
import type { ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

interface Doc {
  paths: Record<string, Record<string, { responses?: Record<string, ResponseObject> }>>;
}
interface ResponseObject {
  content?: Record<string, { schema?: unknown }>;
}

interface Checker {
  check(method: string, url: string, status: number, contentType: string | null, text: string): void;
}

const checkers = new Map<string, Promise<Checker>>();

/** Paths the document leaves out on purpose (schema.hide): the metrics, the document, MQTT, files. */
function undocumented(pathname: string): boolean {
  return (
    !pathname.startsWith('/api/') ||
    pathname === '/api/openapi.json' ||
    // The WebSocket stream: OpenAPI cannot describe its messages.
    pathname === '/api/stream' ||
    pathname.startsWith('/api/docs')
  );
}

function pointer(...parts: string[]): string {
  return parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

async function load(base: string): Promise<Checker> {
  const res = await fetch(`${base}/api/openapi.json`);
  if (res.status !== 200) throw new Error(`GET /api/openapi.json answered ${res.status}`);
  const doc = (await res.json()) as Doc;
  // OpenAPI 3.1 schemas are JSON Schema 2020-12; the document's other keys are not schema keywords.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, 'openapi');
  const templates = Object.keys(doc.paths).map((p) => ({
    path: p,
    re: new RegExp(`^${p.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`),
    params: (p.match(/\{/g) ?? []).length,
  }));
  // A literal segment wins over a parameter (/api/agents/x/commands is not /api/agents/{id}).
  templates.sort((a, b) => a.params - b.params);
  const compiled = new Map<string, ValidateFunction>();
  return {
    check(method, url, status, contentType, text) {
      const u = new URL(url, base);
      const where = `${method} ${u.pathname}${u.search} → ${status}`;
      if (undocumented(u.pathname)) return;
      const t = templates.find((x) => x.re.test(u.pathname));
      const op = t ? doc.paths[t.path]?.[method.toLowerCase()] : undefined;
      if (!t || !op) {
        // Unknown route or method: the not-found handler's error body is all there is to check.
        if (status === 404) return;
        throw new Error(`${where}: no such operation in /api/openapi.json`);
      }
      const declared = op.responses?.[String(status)] ?? op.responses?.default;
      if (!declared) {
        throw new Error(
          `${where}: status not declared in /api/openapi.json (declared: ${Object.keys(op.responses ?? {}).join(', ')})`,
        );
      }
      const isJson = contentType?.includes('application/json') ?? false;
      const schema = declared.content?.['application/json']?.schema;
      if (!isJson) {
        // CSV exports (format=csv) and empty bodies (204) carry no JSON to check.
        if (schema && text.length > 0 && u.searchParams.get('format') !== 'csv')
          throw new Error(`${where}: expected JSON, got ${contentType ?? 'no content type'}`);
        return;
      }
      if (!schema) throw new Error(`${where}: JSON body but no JSON schema declared`);
      const key = `${t.path} ${method} ${status in (op.responses ?? {}) ? status : 'default'}`;
      let validate = compiled.get(key);
      if (!validate) {
        const code = status in (op.responses ?? {}) ? String(status) : 'default';
        const ref = `openapi#/${pointer('paths', t.path, method.toLowerCase(), 'responses', code, 'content', 'application/json', 'schema')}`;
        const got = ajv.getSchema(ref);
        if (!got) throw new Error(`${where}: cannot compile ${ref}`);
        validate = got;
        compiled.set(key, validate);
      }
      const body: unknown = JSON.parse(text);
      if (!validate(body)) {
        throw new Error(
          `${where}: body does not match /api/openapi.json: ${ajv.errorsText(validate.errors)}\n${text.slice(0, 600)}`,
        );
      }
    },
  };
}

/** Validates one response; `base` is the hub's http://host:port. */
export async function checkResponse(
  base: string,
  method: string,
  url: string,
  status: number,
  contentType: string | null,
  text: string,
): Promise<void> {
  let c = checkers.get(base);
  if (!c) {
    c = load(base);
    checkers.set(base, c);
    c.catch(() => checkers.delete(base));
  }
  (await c).check(method, url, status, contentType, text);
}
