import ssh2 from 'ssh2';

/**
 * An ed25519 key pair in OpenSSH format. ssh2's generator writes a public key whose first byte is
 * zero with 31 bytes (about one key in 256), which neither it nor lfsd accepts: such pairs are
 * thrown away, so tests do not fail one run in 256.
 */
export function ed25519KeyPair(): { private: string; public: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    const parsed = ssh2.utils.parseKey(pair.private);
    if (!(parsed instanceof Error) && !Array.isArray(parsed)) return pair;
  }
}
