// Turns Node's TLS verification errors into a brokerError a technician can act on (docs/agent.md
// "TLS to the hub"): which check failed, against which file or name, and the OpenSSL code for search.

/** OpenSSL's verify results meaning "no trusted CA signed this chain". */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

export interface BrokerTarget {
  url: string;
  ca?: string | undefined;
}

export function describeBrokerError(err: Error & { code?: unknown }, broker: BrokerTarget): string {
  const code = err.code;
  // MQTT errors carry a numeric reason code; only Node's TLS errors carry these string codes.
  if (typeof code !== 'string') return err.message;
  const trust = broker.ca
    ? `a CA in broker.ca (${broker.ca})`
    : "a CA this system trusts (set broker.ca to the hub's CA bundle)";
  if (UNTRUSTED.has(code)) {
    return `TLS: the hub's certificate is not signed by ${trust}; refusing to send credentials: ${err.message} (${code})`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    let host = broker.url;
    try {
      host = new URL(broker.url).hostname;
    } catch {
      // the config schema already checked the URL; keep the raw string if it still does not parse
    }
    // checkServerIdentity attaches the peer certificate; for an IP host Node's message lists only the
    // certificate's IP names, so the full list is taken from the certificate itself.
    const cert = (err as { cert?: { subjectaltname?: string; subject?: { CN?: string } } }).cert;
    const names = cert?.subjectaltname ?? (cert?.subject?.CN ? `CN=${cert.subject.CN}` : 'none');
    return `TLS: the hub's certificate does not name "${host}" (the host of broker.url); it names ${names}; refusing to send credentials (${code})`;
  }
  if (code === 'CERT_HAS_EXPIRED')
    return `TLS: the hub's certificate has expired (or this box's clock is wrong): ${err.message} (${code})`;
  if (code === 'CERT_NOT_YET_VALID')
    return `TLS: the hub's certificate is not valid yet (is this box's clock right?): ${err.message} (${code})`;
  return err.message;
}
