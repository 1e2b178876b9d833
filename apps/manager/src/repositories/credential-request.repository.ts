import { Injectable } from '@nestjs/common';
import { and, asc, eq, isNotNull } from 'drizzle-orm';
import { Database, type Tx } from '../database/database';
import { credentialRequests } from '../database/schema';
import { ProjectEntityRepository } from './entity.repository';

export type CredentialRequestRow = typeof credentialRequests.$inferSelect;

/** Queries of self-service credential requests. Writes take the transaction of a ChangeWriter change. */
@Injectable()
export class CredentialRequestRepository extends ProjectEntityRepository<typeof credentialRequests> {
  constructor(database: Database) {
    super(credentialRequests, database);
  }

  /** The project's requests, oldest first. */
  listInProject(projectId: string): Promise<CredentialRequestRow[]> {
    return this.database.db.select().from(credentialRequests).where(eq(credentialRequests.projectId, projectId)).orderBy(asc(credentialRequests.createdAt));
  }

  /**
   * Clears the pending key in the same statement that finds it, so two racing polls cannot both
   * get it; whether this call took it.
   */
  async takePendingKey(tx: Tx, id: string): Promise<boolean> {
    const taken = await tx
      .update(credentialRequests)
      .set({ pendingKey: null, updatedAt: new Date() })
      .where(and(eq(credentialRequests.id, id), isNotNull(credentialRequests.pendingKey)))
      .returning({ id: credentialRequests.id });
    return taken.length > 0;
  }
}
