import { ApplicationFailure } from '@temporalio/common';
import { Liquid } from 'liquidjs';
import { formatUtc, type NotificationChannel } from '../domain/notifications';
import { formatAmount } from '../domain/order-messages';
import { defaultSources, templateKinds, type TemplateSources } from '../domain/templates/sources';
import type { PrismaClient } from '../lib/db';
import { FailureType } from '../workflows/errors';

/**
 * Renders notification templates with Liquid (liquidjs): the shipped default of each template,
 * with any part a tenant's TenantNotificationTemplate row replaces. Tenant-authored sources are
 * untrusted: the engine reads no files (an empty in-memory template map answers every include),
 * exposes only the data's own properties, and bounds parse size, render time and memory.
 */

/** A rendered message; `subject` and `html` only for email, and only when the template has them. */
export interface RenderedContent {
  subject: string | null;
  text: string;
  html: string | null;
}

/** A template the tenant switched off (`enabled: false`): nothing is sent. */
export interface SuppressedContent {
  suppressed: true;
}

/** Which sources a message renders with, and whose they are. */
export interface ResolvedTemplate {
  sources: TemplateSources;
  /** The tenant row used, if any; null when only the shipped default applies. */
  override: { locale: string; enabled: boolean } | null;
}

const MAX_TEMPLATE_CHARACTERS = 100_000;

const filters: Record<string, (value: unknown) => string> = {
  /** `2026-11-25 14:30 UTC`, as the flows' messages write times. */
  utc: (value) => formatUtc(String(value)),
  /** Minor units as `1,234.50`. */
  amount: (value) => formatAmount(Number(value)),
  /** The date part of an ISO-8601 time, `2026-11-25`. */
  day: (value) => String(value).slice(0, 10),
};

function engine(outputEscape: 'escape' | undefined): Liquid {
  const liquid = new Liquid({
    strictVariables: true,
    strictFilters: true,
    // `{% if optional %}` may test a variable the data lacks; printing one still fails.
    lenientIf: true,
    ownPropertyOnly: true,
    templates: {},
    parseLimit: MAX_TEMPLATE_CHARACTERS,
    renderLimit: 1_000,
    memoryLimit: 10_000_000,
    ...(outputEscape ? { outputEscape } : {}),
  });
  for (const [name, filter] of Object.entries(filters)) liquid.registerFilter(name, filter);
  return liquid;
}

const plain = engine(undefined);
/** HTML parts escape every value they print, whatever the data holds. */
const html = engine('escape');

/** Template errors (syntax, unknown variable or filter, a limit hit): the same on every attempt. */
export function templateFailure(part: string, error: unknown): ApplicationFailure {
  const message = error instanceof Error ? error.message : String(error);
  return ApplicationFailure.nonRetryable(
    `The ${part} template cannot be rendered: ${message}`,
    FailureType.TemplateInvalid,
  );
}

/**
 * Why a source does not compile, or undefined when it does. With `sample`, it is also rendered
 * against that data in strict mode, so a variable the kind does not have is caught when saved.
 */
export function templateProblem(
  source: string,
  part: 'subject' | 'text' | 'html',
  sample?: object,
): string | undefined {
  try {
    const liquid = part === 'html' ? html : plain;
    const parsed = liquid.parse(source);
    if (sample) liquid.renderSync(parsed, sample);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Renders sources with data. @throws ApplicationFailure `TemplateInvalid` (non-retryable). */
export function renderSources(sources: TemplateSources, data: object): RenderedContent {
  const render = (part: 'subject' | 'text' | 'html', source: string | null): string | null => {
    if (source === null) return null;
    try {
      const liquid = part === 'html' ? html : plain;
      return String(liquid.parseAndRenderSync(source, data));
    } catch (error) {
      throw templateFailure(part, error);
    }
  };
  return {
    subject: render('subject', sources.subject),
    text: render('text', sources.text) ?? '',
    html: render('html', sources.html),
  };
}

/** A tenant's own sources for one template, channel and locale (a LEFT JOIN's miss leaves locale null). */
interface TemplateRow {
  locale: string | null;
  /** Null with the locale on a miss; a row found by its locale always has it. */
  enabled: boolean;
  subject: string | null;
  text: string | null;
  html: string | null;
}

/**
 * The sources a tenant's message renders with: the tenant's row for the template, channel and
 * locale, else for its default locale; each part the row leaves empty comes from the shipped
 * default. Undefined when neither exists (a name nobody defined).
 */
export async function resolveTemplate(
  prisma: PrismaClient,
  tenantId: string,
  name: string,
  channel: NotificationChannel,
  locale?: string | null,
): Promise<ResolvedTemplate | undefined> {
  // One statement, as every message renders through here: the tenant's default locale, and its rows for
  // the locale asked for and that default (none at all when the tenant does not exist).
  const rows = await prisma.$queryRaw<Array<TemplateRow & { defaultLocale: string }>>`
    SELECT t."defaultLocale", r.locale, r.enabled, r.subject, r.text, r.html
    FROM "Tenant" t
    LEFT JOIN "TenantNotificationTemplate" r
      ON r."tenantId" = t.id AND r.template = ${name} AND r.channel = ${channel}::"NotificationChannel"
      AND r.locale IN (${locale ?? ''}, t."defaultLocale")
    WHERE t.id = ${tenantId}`;
  const locales = [...new Set([locale, rows[0]?.defaultLocale ?? 'en'].filter((l): l is string => !!l))];
  const row = locales.map((l) => rows.find((r) => r.locale === l)).find((r) => r !== undefined);
  const shipped = defaultSources(name, channel);
  if (!row && !shipped) return undefined;
  const isShort = channel !== 'EMAIL';
  const sources: TemplateSources = {
    subject: isShort ? null : (row?.subject ?? shipped?.subject ?? null),
    text: row?.text ?? shipped?.text ?? '',
    html: isShort ? null : (row?.html ?? shipped?.html ?? null),
  };
  return { sources, override: row?.locale ? { locale: row.locale, enabled: row.enabled } : null };
}

/** A message to render: a template by name and its data (the flows' typed templates fit). */
export interface TemplateRequest {
  name: string;
  data: object;
}

/** Renders templates for tenants, with their overrides. */
export interface TemplateRenderer {
  /**
   * @throws ApplicationFailure `TemplateNotFound` for a name with no default and no tenant row,
   *   `TemplateInvalid` when the sources do not render with the data (both non-retryable).
   */
  render(
    tenantId: string,
    channel: NotificationChannel,
    template: TemplateRequest,
    locale?: string | null,
  ): Promise<RenderedContent | SuppressedContent>;
}

export function createTemplateRenderer(prisma: PrismaClient): TemplateRenderer {
  return {
    async render(tenantId, channel, template, locale) {
      const resolved = await resolveTemplate(prisma, tenantId, template.name, channel, locale);
      if (!resolved) {
        throw ApplicationFailure.nonRetryable(
          `No template is named ${JSON.stringify(template.name)}`,
          FailureType.TemplateNotFound,
        );
      }
      if (resolved.override && !resolved.override.enabled) return { suppressed: true };
      return renderSources(resolved.sources, template.data);
    },
  };
}

/** The names Holdfast ships defaults for. */
export const shippedTemplateNames = (): string[] => [...templateKinds.keys()];
