// Schema validation for the packaging tests, run by packaging_lib.py with NODE_PATH pointing at
// the npm packages that setup.sh installed.
//   node validate.cjs k8s                 stdin: JSON list of Kubernetes objects
//   node validate.cjs values <schema>     stdin: JSON list of values objects
// Prints a JSON list with one entry per input: [] when valid, else a list of error strings.
'use strict';

const fs = require('fs');

// Model class for an object: kubernetes-models ships one module per group/version (core is
// "v1"), @kubernetes-models/prometheus-operator the monitoring.coreos.com ones.
function modelFor(obj) {
  const apiVersion = obj.apiVersion || '';
  const kind = obj.kind || '';
  const pkg = apiVersion.startsWith('monitoring.coreos.com/')
    ? '@kubernetes-models/prometheus-operator/' + apiVersion
    : 'kubernetes-models/' + apiVersion;
  let mod;
  try {
    mod = require(pkg);
  } catch (e) {
    return null;
  }
  return mod[kind] || null;
}

function validateK8s(objects) {
  return objects.map((obj) => {
    const Model = modelFor(obj);
    if (!Model) return [`no schema for ${obj.apiVersion} ${obj.kind}`];
    try {
      new Model(obj).validate();
      return [];
    } catch (e) {
      const errors = e.errors || e.details || [];
      if (Array.isArray(errors) && errors.length) {
        return errors.map((x) => `${x.instancePath || '/'} ${x.message || JSON.stringify(x)}` +
          (x.params ? ' ' + JSON.stringify(x.params) : ''));
      }
      return [String(e.message || e)];
    }
  });
}

function validateValues(schemaPath, valuesList) {
  const Ajv = require('ajv');
  const ajv = new Ajv({ allErrors: true, strict: true });
  const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));
  return valuesList.map((values) => {
    if (validate(values)) return [];
    return validate.errors.map((x) => `${x.instancePath || '/'} ${x.message}` +
      (x.params ? ' ' + JSON.stringify(x.params) : ''));
  });
}

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const mode = process.argv[2];
let result;
if (mode === 'k8s') {
  result = validateK8s(input);
} else if (mode === 'values') {
  result = validateValues(process.argv[3], input);
} else {
  console.error('usage: validate.cjs k8s | values <schema.json>');
  process.exit(2);
}
process.stdout.write(JSON.stringify(result));
