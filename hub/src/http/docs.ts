// `/api/docs`: an interactive reference of the HTTP API (Swagger UI, from @fastify/swagger-ui) built
// from the same OpenAPI document as /api/openapi.json. Its assets come from the package on this hub,
// never a CDN, and it is served under the dashboard's Content Security Policy unchanged: Swagger UI
// loads only its own files and calls only this origin.
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { CSP } from '../dashboard/module.js';

export async function registerApiDocs(http: FastifyInstance): Promise<void> {
  await http.register(swaggerUi, {
    routePrefix: '/api/docs',
    staticCSP: CSP,
    theme: { title: 'Classroom hub API' },
    uiConfig: {
      // The standalone layout's top bar draws a logo with an inline <style>, which style-src 'self'
      // refuses; the base layout has everything but that bar.
      layout: 'BaseLayout',
      // The online validator badge would call a third-party host (refused by connect-src/img-src).
      validatorUrl: null,
      deepLinking: true,
      docExpansion: 'list',
      tryItOutEnabled: false,
      // Same-origin requests carry the session cookie, so a logged-in user can try the API.
      withCredentials: true,
    },
  });
}
