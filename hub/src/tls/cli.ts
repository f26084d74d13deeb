// The TLS flags of `classroom-hub serve` and the SIGHUP reload (docs/hub.md "TLS").
import { Option } from 'commander';
import type { RunningHub } from '../app.js';
import { DEFAULTS } from '../config.js';

export function tlsOptions(portArg: (v: string) => number): Option[] {
  return [
    new Option('--tls-cert <file>', 'PEM certificate chain (leaf first): serve MQTTS, HTTPS and WSS').env(
      'CLASSROOM_HUB_TLS_CERT',
    ),
    new Option('--tls-key <file>', 'PEM private key of --tls-cert (unencrypted, mode 0600)').env(
      'CLASSROOM_HUB_TLS_KEY',
    ),
    new Option('--mqtts-port <port>', `MQTT over TLS port (0 = any free port; default ${DEFAULTS.mqttsPort})`)
      .env('CLASSROOM_HUB_MQTTS_PORT')
      .argParser(portArg),
    new Option(
      '--broker-ca <file>',
      'PEM CA bundle the --broker mqtts:// / wss:// certificate must chain to (default: system CAs)',
    ).env('CLASSROOM_HUB_BROKER_CA'),
    new Option(
      '--mqtt-host <host>',
      'address of the plain MQTT listener (default: --host); with TLS keep it on loopback',
    ).env('CLASSROOM_HUB_MQTT_HOST'),
  ];
}

/**
 * SIGHUP re-reads the certificate and key (after a renewal) without a restart. Without TLS it is
 * logged and ignored, rather than ending the hub as Node's default SIGHUP handling would.
 */
export function registerTlsReload(hub: RunningHub): void {
  process.on('SIGHUP', () => {
    if (!hub.tls) {
      hub.ctx.log.info({ signal: 'SIGHUP' }, 'SIGHUP: no TLS configured, nothing to reload');
      return;
    }
    hub.reloadTls();
  });
}
