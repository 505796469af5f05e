import type { OpenAPIObject } from '@nestjs/swagger';
import { fitDocument } from './openapi.document';

const responses = { 200: { description: '' } };
const param = (name: string) => ({ name, in: 'path' as const, required: true, description: `the ${name}`, schema: { type: 'string' } });

it('keeps on each path alias the path parameters it has, and adds the ones nobody described', () => {
  const doc = fitDocument({
    openapi: '3.0.0',
    info: { title: 't', version: '1' },
    paths: {
      '/traces': { get: { responses, parameters: [param('project_id'), { name: 'limit', in: 'query' }] } },
      '/project_id/{project_id}/traces': { get: { responses, parameters: [param('project_id'), { name: 'limit', in: 'query' }] } },
      '/things/{thing_id}': { get: { responses } },
    },
  });
  expect(doc.paths['/traces'].get!.parameters).toEqual([{ name: 'limit', in: 'query' }]);
  expect(doc.paths['/project_id/{project_id}/traces'].get!.parameters).toEqual([param('project_id'), { name: 'limit', in: 'query' }]);
  expect(doc.paths['/things/{thing_id}'].get!.parameters).toEqual([{ name: 'thing_id', in: 'path', required: true, schema: { type: 'string' } }]);
});

const secured = (schemes: string[]): OpenAPIObject => ({
  openapi: '3.0.0',
  info: { title: 't', version: '1' },
  components: { securitySchemes: Object.fromEntries(schemes.map((s) => [s, { type: 'http', scheme: 'bearer' } as const])) },
  paths: {
    '/health': { get: { responses, security: [{}] } },
    '/metrics': { get: { responses, security: [{}, { 'gateway-key': [] }, { bearer: [] }] } },
  },
});

it('drops security requirements that name a scheme the document does not declare', () => {
  const doc = fitDocument(secured(['bearer']));
  expect(doc.paths['/health'].get!.security).toEqual([{}]);
  expect(doc.paths['/metrics'].get!.security).toEqual([{}, { bearer: [] }]);
});

it('with no scheme at all (auth off), says nothing about security', () => {
  const doc = fitDocument(secured([]));
  expect(doc.paths['/health'].get!.security).toBeUndefined();
  expect(doc.paths['/metrics'].get!.security).toBeUndefined();
});
