/** PEM text of this node's certificate and key, and of the cluster CA. */
export interface TlsConfig {
  cert: string;
  key: string;
  ca: string;
}

/**
 * Mutual TLS within a cluster CA: both ends present a certificate the CA signed. A dialled
 * peer's certificate must also name the address it is dialled at (an IP subjectAltName,
 * since peers announce IP addresses), as TLS host-name checking requires.
 */
export function serverTls(tls: TlsConfig) {
  return { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true };
}

export function clientTls(tls: TlsConfig) {
  return { cert: tls.cert, key: tls.key, ca: tls.ca, rejectUnauthorized: true };
}
