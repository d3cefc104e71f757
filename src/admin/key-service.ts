/**
 * SSH public keys (issue 13): a user's identity over SSH (src/ssh). Added from one OpenSSH public
 * key line (ed25519, ECDSA, RSA of 2048 bits or more: ssh/public-key.ts), listed, removed. A key
 * belongs to one user: adding it again, to anyone, is refused. Removing a key (or its user) ends its
 * access at once, open SSH sessions included (auth/credentials.ts resolves the key on every
 * command). A user manages their own keys, an admin anyone's.
 */
import { lfsError } from '../errors.js';
import { AlreadyExistsError, type MetadataStore, type SshKeyRecord } from '../metadata/metadata-store.js';
import { checkOptionalText, MAX_LABEL_LENGTH } from '../rules.js';
import { parsePublicKey } from '../ssh/public-key.js';
import { requireSiteAdmin, type Actor } from './actor.js';
import type { UserService } from './user-service.js';

export class KeyService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly users: UserService,
  ) {}

  /** `label` defaults to the key line's comment */
  async add(actor: Actor, userName: string, line: string, label?: string | null): Promise<SshKeyRecord> {
    const user = await this.users.get(actor, userName);
    const key = parsePublicKey(line);
    try {
      return await this.metadata.addSshKey({
        userId: user.id,
        type: key.type,
        publicKey: key.base64,
        fingerprint: key.fingerprint,
        label: checkOptionalText('key label', label ?? key.comment ?? null, MAX_LABEL_LENGTH),
      });
    } catch (err) {
      if (err instanceof AlreadyExistsError) {
        throw lfsError(
          'already_exists',
          `SSH key ${key.fingerprint} is already registered (a key belongs to one user)`,
        );
      }
      throw err;
    }
  }

  async list(actor: Actor, userName: string): Promise<SshKeyRecord[]> {
    const user = await this.users.get(actor, userName);
    return this.metadata.listSshKeys(user.id);
  }

  async remove(actor: Actor, userName: string, keyId: number): Promise<void> {
    const user = await this.users.get(actor, userName);
    if (!Number.isSafeInteger(keyId) || !(await this.metadata.deleteSshKey(user.id, keyId))) {
      throw lfsError('key_not_found', `user ${user.name} has no SSH key ${keyId}`);
    }
  }

  /**
   * One OpenSSH `authorized_keys` line per key, for hosts that run sshd: each forces
   * `<command> --user NAME --key ID` (`lfsd ssh-command`, which reads SSH_ORIGINAL_COMMAND) and
   * `restrict` (no pty, no forwarding). Site admins only: it lists everyone's keys.
   */
  async authorizedKeys(actor: Actor, command: string): Promise<string[]> {
    requireSiteAdmin(actor);
    const quoted = (text: string) => text.replace(/[\\"]/g, (c) => `\\${c}`);
    return (await this.metadata.listAllSshKeys()).map(
      ({ key, userName }) =>
        `command="${quoted(`${command} --user ${userName} --key ${key.id}`)}",restrict ` +
        `${key.type} ${key.publicKey} lfsd:${userName}:${key.id}`,
    );
  }
}
