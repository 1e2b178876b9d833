import { Injectable } from '@nestjs/common';
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { Database, type Reads, type Tx } from '../database/database';
import { credentials, projectEndUserRegistration } from '../database/schema';
import type { CredentialRow } from './credential.repository';

export type EndUserRegistrationRow = typeof projectEndUserRegistration.$inferSelect;

/** Projects' end-user self-service settings, and the end user an email names (for the mails of those flows). */
@Injectable()
export class EndUserRegistrationRepository {
  constructor(private readonly database: Database) {}

  async find(projectId: string, db: Reads = this.database.db, lock = false): Promise<EndUserRegistrationRow | undefined> {
    const query = db.select().from(projectEndUserRegistration).where(eq(projectEndUserRegistration.projectId, projectId));
    const [row] = await (lock ? query.for('update') : query);
    return row;
  }

  async put(tx: Tx, projectId: string, settings: Record<string, unknown>): Promise<void> {
    await tx
      .insert(projectEndUserRegistration)
      .values({ projectId, settings })
      .onConflictDoUpdate({ target: projectEndUserRegistration.projectId, set: { settings, updatedAt: new Date() } });
  }

  /** The projects whose end users must have a verified email to sign in (what the Gateways read, through Redis). */
  async projectsRequiringVerifiedEmail(): Promise<string[]> {
    const rows = await this.database.db
      .select({ projectId: projectEndUserRegistration.projectId })
      .from(projectEndUserRegistration)
      .where(sql`(${projectEndUserRegistration.settings} ->> 'requireVerifiedEmail') = 'true'`);
    return rows.map((r) => r.projectId);
  }

  /** The end user of the project with this email (case-insensitive, as the unique index compares). */
  async endUserByEmail(projectId: string, email: string, db: Reads = this.database.db): Promise<CredentialRow | undefined> {
    const [row] = await db
      .select()
      .from(credentials)
      .where(and(eq(credentials.projectId, projectId), isNotNull(credentials.endUser), sql`lower(${credentials.email}) = lower(${email})`));
    return row as CredentialRow | undefined;
  }
}
