import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import request from 'supertest';
import { exportWorkflowId } from '../../workflows/export.contract';
import { useApiStack } from '../support/api-stack';

// No worker: the rows' workflows never run, as for a workflow terminated and then deleted.
const stack = useApiStack();

describe('cancelling an export whose workflow no longer exists', () => {
  it.each(['QUEUED', 'RUNNING'] as const)(
    'settles a %s row CANCELLED directly and answers 202; a second cancel answers 200',
    async (status) => {
      const exportId = randomUUID();
      const workflowId = exportWorkflowId(stack.tenant.id, exportId);
      await stack.prisma.export.create({
        data: { id: exportId, tenantId: stack.tenant.id, entities: ['orders'], format: 'csv', status, workflowId },
      });
      await expect(stack.client.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(
        WorkflowNotFoundError,
      );

      const cancel = await request(stack.app)
        .post(`/api/v1/exports/${exportId}/cancel`)
        .set('Authorization', stack.tokens.operator);

      expect(cancel.status).toBe(202);
      expect(cancel.body).toMatchObject({ id: exportId, status: 'CANCELLED', cancelRequested: true });
      const row = await stack.prisma.export.findUniqueOrThrow({ where: { id: exportId } });
      expect(row.status).toBe('CANCELLED');
      expect(row.completedAt).toBeInstanceOf(Date);

      const again = await request(stack.app)
        .post(`/api/v1/exports/${exportId}/cancel`)
        .set('Authorization', stack.tokens.operator);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ id: exportId, status: 'CANCELLED', cancelRequested: false });
      const shown = await request(stack.app)
        .get(`/api/v1/exports/${exportId}`)
        .set('Authorization', stack.tokens.member);
      expect(shown.body).toMatchObject({ id: exportId, status: 'CANCELLED' });
    },
  );

  it('leaves a row of another tenant alone: 404, and the row stays QUEUED', async () => {
    const exportId = randomUUID();
    await stack.prisma.export.create({
      data: {
        id: exportId,
        tenantId: stack.tenant.id,
        entities: ['orders'],
        format: 'csv',
        workflowId: exportWorkflowId(stack.tenant.id, exportId),
      },
    });
    const cancel = await request(stack.app)
      .post(`/api/v1/exports/${exportId}/cancel`)
      .set('Authorization', stack.tokens.otherAdmin);
    expect(cancel.status).toBe(404);
    expect((await stack.prisma.export.findUniqueOrThrow({ where: { id: exportId } })).status).toBe('QUEUED');
  });
});
