import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TlsFiles {
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A nats-server `tls` block over these files that requires a client certificate (verify). */
  serverFragment: string;
  /** The variables a client (a service, the CLI) takes them from. */
  clientEnv: { NATS_TLS_CA: string; NATS_TLS_CERT: string; NATS_TLS_KEY: string };
}

/**
 * A throw-away CA and, signed by it, a server certificate for 127.0.0.1/localhost and a client
 * certificate, made with Debian's openssl (P-256 keys: fast) in `dir`; plus a server fragment
 * that requires clients to present one.
 */
export function makeTlsFiles(dir: string): TlsFiles {
  mkdirSync(dir, { recursive: true });
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=agentbus test CA']);
  const sign = (name: string, cn: string, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), `${extensions}\n`);
    openssl(['req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  sign('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth');
  sign('client', 'agentbus test client', 'extendedKeyUsage=clientAuth');
  const files = {
    caFile: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
  const serverFragment = join(dir, 'tls.conf');
  writeFileSync(serverFragment, `tls {\n  cert_file: "${files.serverCert}"\n  key_file: "${files.serverKey}"\n  ca_file: "${files.caFile}"\n  verify: true\n  timeout: 2\n}\n`);
  return { ...files, serverFragment, clientEnv: { NATS_TLS_CA: files.caFile, NATS_TLS_CERT: files.clientCert, NATS_TLS_KEY: files.clientKey } };
}
