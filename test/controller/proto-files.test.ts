/**
 * Every .proto of the tree loads together, as a code generator run over proto/ reads them: no two
 * files may declare the same name in one package (the controller's commands and its service's
 * requests once did, with messages both called CreateTopic in brook.controller.v1).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import { protoFilePath } from '../../proto/proto-file-path.js';

test('all proto files load into one root without name clashes', () => {
  const dir = dirname(protoFilePath('brook.proto'));
  const files = readdirSync(dir).filter((name) => name.endsWith('.proto')).sort();
  assert.ok(files.length >= 5, `found ${files.join(', ')}`);
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(dir, target.replace(/^.*\//, ''));
  root.loadSync(files.map((name) => join(dir, name)));
  root.resolveAll();
  assert.ok(root.lookupService('brook.controller.service.v1.ControllerService'));
  assert.ok(root.lookupType('brook.controller.v1.ControllerCommand'));
});
