/**
 * Revocation (issue 11 item 6): a transfer href handed out under a credential stops working as
 * soon as that credential (or the access it gave) is withdrawn, on every path: token revoked,
 * password changed, grant removed or lowered, user disabled or removed, repository made private.
 * The per-replica cache bounds "as soon as" by REVOCATION_CACHE_MS.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/admin/actor.js';
import { createAdminServices, type AdminServices } from '../../src/admin/admin-services.js';
import { CredentialChecker, REVOCATION_CACHE_MS } from '../../src/auth/credentials.js';
import { randomObject, type TestObject } from '../helpers/content.js';
import {
  addUser,
  basicAuth,
  batchOne,
  createTestApp,
  type PlannedAction,
  type TestApp,
} from '../helpers/test-app.js';

describe('revocation of transfer hrefs', () => {
  let t: TestApp;
  let admin: AdminServices;
  let counter = 0;

  before(async () => {
    t = await createTestApp();
    admin = createAdminServices(t.deps.metadata);
  });
  after(() => t.close());

  /** uncached checks, so each path shows the effect of the revocation itself */
  function uncached() {
    t.deps.credentials = new CredentialChecker(t.deps.metadata, 0);
  }

  async function put(action: PlannedAction, obj: TestObject) {
    const res = await t.app.inject({
      method: 'PUT',
      url: new URL(action.href).pathname,
      headers: action.header,
      payload: obj.content,
    });
    return res.statusCode;
  }

  async function get(action: PlannedAction) {
    const res = await t.app.inject({
      method: 'GET',
      url: new URL(action.href).pathname,
      headers: action.header,
    });
    return res.statusCode;
  }

  /** an upload href and, for an object already stored, a download href, both under `authorization` */
  async function hrefs(repo: string, authorization: string) {
    const stored = randomObject(16 + counter++);
    const upload = (await batchOne(t.app, 'upload', stored, repo, authorization)).actions!.upload!;
    assert.equal(await put(upload, stored), 200);
    const download = (await batchOne(t.app, 'download', stored, repo, authorization)).actions!.download!;
    const fresh = randomObject(16 + counter++);
    const nextUpload = (await batchOne(t.app, 'upload', fresh, repo, authorization)).actions!.upload!;
    return { download, upload: nextUpload, fresh };
  }

  it('a revoked token stops its hrefs at once; other credentials of the user keep theirs', async () => {
    uncached();
    const user = await addUser(t.deps, `tok${counter++}`);
    const name = (await t.deps.metadata.findUserById(user.id))!.name;
    const viaToken = await hrefs(`${name}/a`, basicAuth(name, user.token));
    const viaPassword = await hrefs(`${name}/a`, user.authorization);
    const [token] = await admin.tokens.list(OPERATOR, name);
    await admin.tokens.revoke(OPERATOR, name, token!.id);
    assert.equal(await get(viaToken.download), 403);
    assert.equal(await put(viaToken.upload, viaToken.fresh), 403);
    assert.equal(await get(viaPassword.download), 200, 'the password was not revoked');
    assert.equal(await put(viaPassword.upload, viaPassword.fresh), 200);
  });

  it('a password change stops what the old password granted', async () => {
    uncached();
    const user = await addUser(t.deps, `pw${counter++}`);
    const name = (await t.deps.metadata.findUserById(user.id))!.name;
    const old = await hrefs(`${name}/a`, user.authorization);
    const viaToken = await hrefs(`${name}/a`, `Bearer ${user.token}`);
    await admin.users.setPassword(OPERATOR, name, 'a brand new password');
    assert.equal(await get(old.download), 403);
    assert.equal(await put(old.upload, old.fresh), 403);
    assert.equal(await get(viaToken.download), 200, 'tokens do not depend on the password');
    const renewed = await hrefs(`${name}/a`, basicAuth(name, 'a brand new password'));
    assert.equal(await get(renewed.download), 200);
  });

  it('removing or lowering a grant stops the transfers it allowed', async () => {
    uncached();
    const owner = await addUser(t.deps, `own${counter++}`);
    const ownerName = (await t.deps.metadata.findUserById(owner.id))!.name;
    const guest = await addUser(t.deps, `gst${counter++}`);
    const guestName = (await t.deps.metadata.findUserById(guest.id))!.name;
    const repo = `${ownerName}/shared`;
    await admin.repos.create(OPERATOR, repo);
    await admin.grants.grant(OPERATOR, guestName, repo, 'write');
    const first = await hrefs(repo, guest.authorization);
    await admin.grants.grant(OPERATOR, guestName, repo, 'read');
    assert.equal(await put(first.upload, first.fresh), 403, 'read no longer allows the upload');
    assert.equal(await get(first.download), 200, 'read still allows the download');
    await admin.grants.revoke(OPERATOR, guestName, repo);
    assert.equal(await get(first.download), 403);
  });

  it('disabling or removing a user stops every credential of theirs', async () => {
    uncached();
    const user = await addUser(t.deps, `dis${counter++}`);
    const name = (await t.deps.metadata.findUserById(user.id))!.name;
    const viaPassword = await hrefs(`${name}/a`, user.authorization);
    const viaToken = await hrefs(`${name}/a`, `Bearer ${user.token}`);
    await admin.users.setDisabled(OPERATOR, name, true);
    assert.equal(await get(viaPassword.download), 403);
    assert.equal(await get(viaToken.download), 403);
    const batch = await t.app.inject({
      method: 'POST',
      url: `/${name}/a.git/info/lfs/objects/batch`,
      headers: { 'content-type': 'application/vnd.git-lfs+json', authorization: user.authorization },
      payload: JSON.stringify({ operation: 'download', objects: [] }),
    });
    assert.equal(batch.statusCode, 401, 'a disabled user cannot sign in');
    await admin.users.setDisabled(OPERATOR, name, false);
    assert.equal(await get(viaPassword.download), 403, 'disabling ended the password generation');
    assert.equal(await get(viaToken.download), 200, 'the token itself was never revoked');
    await admin.users.remove(OPERATOR, name);
    assert.equal(await get(viaToken.download), 403);
  });

  it("making a repository private stops anonymous downloads' hrefs", async () => {
    uncached();
    const owner = await addUser(t.deps, `pub${counter++}`);
    const name = (await t.deps.metadata.findUserById(owner.id))!.name;
    const repo = `${name}/open`;
    await admin.repos.create(OPERATOR, repo, { isPublic: true });
    const obj = randomObject(33);
    const upload = (await batchOne(t.app, 'upload', obj, repo, owner.authorization)).actions!.upload!;
    assert.equal(await put(upload, obj), 200);
    const anonymous = await t.app.inject({
      method: 'POST',
      url: `/${repo}.git/info/lfs/objects/batch`,
      headers: { 'content-type': 'application/vnd.git-lfs+json' },
      payload: JSON.stringify({ operation: 'download', objects: [{ oid: obj.oid, size: obj.size }] }),
    });
    assert.equal(anonymous.statusCode, 200);
    const download = (anonymous.json() as { objects: [{ actions: { download: PlannedAction } }] }).objects[0]
      .actions.download;
    assert.equal(await get(download), 200);
    await admin.repos.setPublic(OPERATOR, repo, false);
    assert.equal(await get(download), 403);
  });

  it('with the default cache, a revocation takes effect within REVOCATION_CACHE_MS', async () => {
    t.deps.credentials = new CredentialChecker(t.deps.metadata);
    const user = await addUser(t.deps, `cache${counter++}`);
    const name = (await t.deps.metadata.findUserById(user.id))!.name;
    const { download } = await hrefs(`${name}/a`, `Bearer ${user.token}`);
    assert.equal(await get(download), 200); // cached as allowed now
    const [token] = await admin.tokens.list(OPERATOR, name);
    await admin.tokens.revoke(OPERATOR, name, token!.id);
    await sleep(REVOCATION_CACHE_MS + 200);
    assert.equal(await get(download), 403);
  });
});
