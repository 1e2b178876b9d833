import pino, { type Logger } from 'pino';

/**
 * JSON logs on stdout, one line per event. Secrets must never reach a log line; the redaction
 * below is the safety net, not the policy (code should not log them in the first place).
 */
export function createGatewayLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'idm-gateway' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'req.headers.cookie',
        'headers.authorization',
        'headers["x-api-key"]',
        'password',
        '*.password',
        '*.passwordHash',
      ],
      censor: '[redacted]',
    },
  });
}
