// Builds the OpenAPI 3.1 document from the route registry's zod schemas.
import { z } from 'zod';
import { isPublic, type AnyRoute } from './registry.ts';

type JsonSchema = Record<string, unknown>;

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  tags: string[];
  parameters: Array<{ name: string; in: 'path' | 'query'; required: boolean; description?: string; schema: JsonSchema }>;
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema; example?: unknown }> };
  responses: Record<string, unknown>;
  description: string;
  security: Array<Record<string, string[]>>;
  'x-onelink-permission'?: string;
  'x-onelink-capability'?: string | null;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: Array<{ url: string }>;
  tags: Array<{ name: string; description: string }>;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' });
  return rest;
}

function requestBodyContent(body: z.ZodType) {
  const schema = jsonSchema(body, 'input');
  return { schema, example: exampleFor(schema) };
}

const errorSchema: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'details'],
      properties: {
        code: { type: 'string', examples: ['validation_failed'] },
        message: { type: 'string' },
        details: {},
      },
    },
  },
};

function parameters(where: 'path' | 'query', schema: z.ZodType | undefined): OpenApiOperation['parameters'] {
  if (!schema) return [];
  const object = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (object.required ?? []).includes(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}

/** What each tag groups, for the document's tag list (a route with a tag missing here fails the OpenAPI lint). */
export const tagDescriptions: Record<string, string> = {
  health: 'Liveness, readiness and what this running service is (version, database, migrations)',
  auth: 'Signing in with a Chatwoot access token, the session, and who the caller is',
  admin: 'Account administration: people, service tokens, extra fields, capabilities, audit log and webhook deliveries',
  system: 'How the service itself is doing: scheduled sweeps, queues and backlogs',
  portal: 'Client portal users and their sessions',
  pipelines: 'Sales pipelines and their stages',
  deals: 'Deals on a pipeline: the board, moves, status, export',
  tasks: 'Tasks with due dates, linked to contacts, conversations, deals or jobs',
  jobs: 'Service jobs: the dispatch board, status changes, vendor assignment, checklists and files',
  vendors: 'Vendors who take jobs: their service areas, categories, availability and compliance',
  automation: 'Automation rules the account switches on and configures',
  calls: 'Twilio settings, numbers and the calls they carry',
  events: 'The change stream open pages listen to',
  timeline: 'Everything that happened to a deal or a contact, in order',
  search: 'One search over deals, jobs, vendors and contacts',
  sidebar: 'What the Chatwoot sidebar shows for a conversation, in one answer',
  views: 'Saved views of a board (named sets of filters)',
  reports: 'Pipeline funnel, speed to first response, dispatch and vendor scorecards: figures, their definitions, the records behind each figure, and CSV',
  notifications: 'The bell, notification preferences, web push subscriptions, and the admin settings, customer templates and delivery log',
  webhooks: 'Where Chatwoot and Twilio deliver their events (signed; not for integrators to call)',
  meta: 'This API described: the OpenAPI document and its readable reference',
};

// Examples for the string patterns our schemas use (a pattern can't be inverted in general).
const patternExamples = ['EUR', 'site_access', '09:00', `AC${'0123456789abcdef'.repeat(2)}`, `MG${'0123456789abcdef'.repeat(2)}`, '+14155550199', 'en', 'D-1042', 'J-1042', '123456'];

/**
 * A plausible value that satisfies a JSON schema, for the example of a request body. Covers what
 * z.toJSONSchema emits for our building blocks; every property is filled so the example shows
 * the whole body.
 */
export function exampleFor(schema: JsonSchema, name = ''): unknown {
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if ('default' in schema && schema.default !== undefined) return schema.default;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const union = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (union) return exampleFor(union.find((branch) => branch.type !== 'null') ?? union[0]!, name);
  if (Array.isArray(schema.allOf)) return exampleFor(Object.assign({}, ...(schema.allOf as JsonSchema[])), name);
  switch (schema.type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
      return Object.fromEntries(Object.entries(properties).map(([key, property]) => [key, exampleFor(property, key)]));
    }
    case 'array': {
      const items = (schema.items ?? {}) as JsonSchema;
      const count = Math.max(1, Number(schema.minItems ?? 1));
      return Array.from({ length: count }, () => exampleFor(items, name));
    }
    case 'integer':
    case 'number': {
      const low = Number(schema.minimum ?? (schema.exclusiveMinimum !== undefined ? Number(schema.exclusiveMinimum) + 1 : 1));
      return Math.min(Math.max(low, 1), Number(schema.maximum ?? Number.MAX_SAFE_INTEGER));
    }
    case 'boolean':
      return true;
    case 'string':
      return stringExample(schema, name);
    case 'null':
      return null;
    default:
      return null;
  }
}

function stringExample(schema: JsonSchema, name: string): string {
  const byFormat: Record<string, string> = {
    'date-time': '2030-01-31T09:00:00Z',
    date: '2030-01-31',
    email: 'dispatch@example.com',
    uuid: '3f2b8a4e-5c1d-4e7f-9a2b-6c8d0e1f2a3b',
    uri: 'https://chatwoot.example.com',
    url: 'https://chatwoot.example.com',
  };
  if (typeof schema.format === 'string' && byFormat[schema.format]) return byFormat[schema.format]!;
  if (typeof schema.pattern === 'string') {
    const pattern = new RegExp(schema.pattern, 'u');
    const fitting = patternExamples.find((candidate) => pattern.test(candidate));
    if (fitting) return fitting;
  }
  const min = Number(schema.minLength ?? 0);
  const max = Number(schema.maxLength ?? 200);
  const words = name ? `Example ${name.replace(/_/g, ' ')}` : 'Example';
  return words.padEnd(min, '.').slice(0, max);
}

const errorResponses: Record<string, string> = {
  '400': 'Malformed request (bad JSON, bad cursor)',
  '404': 'Not found',
  '413': 'Request body too large',
  '422': 'Validation failed (also for NUL or unpaired surrogates in any text); `details.fields` names up to 20 fields, `details.more` counts the rest',
};

export function buildOpenApi(routes: AnyRoute[], info: { version: string; serverUrl: string }): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const path = `${route.prefix ?? '/api/v1'}${route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;
    const status = String(route.successStatus ?? (route.method === 'post' ? 201 : 200));
    const access = route.access;
    const guarded = !isPublic(access);
    const accessResponses = guarded
      ? {
          '401': { description: 'No valid session or service token', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
          '403': {
            description: `Missing the ${access.permission} permission${access.capability ? `, or ${access.capability} is switched off (capability_disabled)` : ''}`,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          },
        }
      : {};
    const sentence = /[.!?]$/.test(route.summary) ? route.summary : `${route.summary}.`;
    paths[path] ??= {};
    paths[path][route.method] = {
      ...(guarded
        ? {
            description: `${sentence} Needs the \`${access.permission}\` permission${access.capability ? ` and the \`${access.capability}\` capability` : ''}.`,
            security: [{ bearer: [] }],
            'x-onelink-permission': access.permission,
            'x-onelink-capability': access.capability,
          }
        : {
            description: `${sentence} Public: needs no session or token${path.startsWith('/webhooks/') ? ' (the sender proves itself with the secret in the address or its signature)' : ''}.`,
            security: [],
          }),
      operationId: `${route.method}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: route.summary,
      tags: route.tags,
      parameters: [...parameters('path', route.params), ...parameters('query', route.query)],
      ...(route.body
        ? { requestBody: { required: true, content: { 'application/json': requestBodyContent(route.body) } } }
        : {}),
      responses: {
        [status]: {
          description: 'Success',
          content: route.produces ? { [route.produces]: { schema: { type: 'string' } } } : {
            'application/json': {
              schema: {
                type: 'object',
                required: ['data', 'meta'],
                properties: { data: route.response ? jsonSchema(route.response, 'output') : {}, meta: { type: 'object' } },
              },
            },
          },
        },
        ...Object.fromEntries(
          Object.entries(errorResponses).map(([code, description]) => [
            code,
            { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
          ]),
        ),
        ...(route.body
          ? { '415': { description: 'The body is not sent as application/json', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } }
          : {}),
        ...accessResponses,
      },
    };
  }
  const usedTags = [...new Set(routes.flatMap((route) => route.tags))].sort();
  return {
    openapi: '3.1.0',
    info: {
      title: 'Onelink CRM & Dispatch API',
      version: info.version,
      description: 'The JSON API of the Onelink sidecar for Chatwoot. Every answer is `{ data, meta }` or `{ error: { code, message, details } }`.',
    },
    servers: [{ url: info.serverUrl }],
    tags: usedTags.map((name) => ({ name, description: tagDescriptions[name] ?? '' })),
    paths,
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A session token from POST /api/v1/auth/chatwoot or a service token' },
      },
    },
  };
}
