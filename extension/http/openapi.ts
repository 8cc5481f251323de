// Builds the OpenAPI 3.1 document from the route registry's zod schemas.
import { z } from 'zod';
import { isPublic, type AnyRoute } from './registry.ts';

type JsonSchema = Record<string, unknown>;

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  tags: string[];
  parameters: Array<{ name: string; in: 'path' | 'query'; required: boolean; description?: string; schema: JsonSchema }>;
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, unknown>;
  description?: string;
  security?: Array<Record<string, string[]>>;
  'x-onelink-permission'?: string;
  'x-onelink-capability'?: string | null;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' });
  return rest;
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
    paths[path] ??= {};
    paths[path][route.method] = {
      ...(guarded
        ? {
            description: `Needs the \`${access.permission}\` permission${access.capability ? ` and the \`${access.capability}\` capability` : ''}.`,
            security: [{ bearer: [] }],
            'x-onelink-permission': access.permission,
            'x-onelink-capability': access.capability,
          }
        : {}),
      operationId: `${route.method}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: route.summary,
      tags: route.tags,
      parameters: [...parameters('path', route.params), ...parameters('query', route.query)],
      ...(route.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } }
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
  return {
    openapi: '3.1.0',
    info: {
      title: 'Onelink CRM & Dispatch API',
      version: info.version,
      description: 'The JSON API of the Onelink sidecar for Chatwoot. Every answer is `{ data, meta }` or `{ error: { code, message, details } }`.',
    },
    servers: [{ url: info.serverUrl }],
    paths,
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A session token from POST /api/v1/auth/chatwoot or a service token' },
      },
    },
  };
}
