// Quote amounts arrive as the decimal a person types ("1250.50") and are kept, like deal amounts,
// as an integer of the currency's minor unit (cents; none for JPY, thousandths for KWD). The
// number of decimals comes from Intl, the same list the deals module accepts currencies from.
import { InvalidFieldsError } from '../../errors.ts';
import { isCurrency } from '../deals/rules.ts';

/** Decimals of a currency's minor unit (2 for EUR, 0 for JPY, 3 for KWD). */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

const amountProblem = (message: string, code: string) => new InvalidFieldsError('The amount is not valid', [{ field: 'amount', message, code }]);

/**
 * "1,250.50" is refused (a thousands separator reads differently across locales): digits with an
 * optional point and at most as many decimals as the currency has. The result fits a JS integer.
 */
export function toMinorUnits(amount: string, currency: string): number {
  if (!isCurrency(currency)) {
    throw new InvalidFieldsError('Unknown currency', [{ field: 'currency', message: `${currency} is not an ISO 4217 currency code`, code: 'unknown_currency' }]);
  }
  const digits = minorDigits(currency);
  const match = /^(\d{1,15})(?:\.(\d+))?$/.exec(amount.trim());
  if (!match) throw amountProblem('A number such as 1250.50 (digits, a point for decimals, no thousands separators)', 'invalid_amount');
  const [, whole, fraction = ''] = match;
  if (fraction.length > digits) {
    throw amountProblem(digits === 0 ? `${currency} has no decimals` : `${currency} has at most ${digits} decimals`, 'too_many_decimals');
  }
  const minor = BigInt(whole!) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, '0') || '0');
  if (minor > BigInt(Number.MAX_SAFE_INTEGER)) throw amountProblem('The amount is too large', 'too_large');
  return Number(minor);
}

/** The minor units back as a plain decimal string ("1250.50", "98000" for JPY). */
export function fromMinorUnits(minor: number | string, currency: string): string {
  const digits = minorDigits(currency);
  const value = BigInt(minor);
  if (digits === 0) return value.toString();
  const scale = 10n ** BigInt(digits);
  return `${value / scale}.${(value % scale).toString().padStart(digits, '0')}`;
}
