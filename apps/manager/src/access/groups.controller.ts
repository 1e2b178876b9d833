import { Controller, Delete, Get, Param, Post } from '@nestjs/common';
import { createGroupSchema, groupSchema, groupMemberSchema, type CreateGroup } from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { GroupsService } from './groups.service';

@Controller('api/v1/groups')
export class GroupsController {
  constructor(private readonly groups: GroupsService) {}

  @Get()
  @Contract({ summary: 'List groups with their members', response: z.array(groupSchema) })
  list() {
    return this.groups.list();
  }

  @Post()
  @Contract({ summary: 'Create a group', body: createGroupSchema, status: 201, response: groupSchema })
  create(@ContractBody() body: CreateGroup) {
    return this.groups.create(body);
  }

  @Delete(':groupId')
  @Contract({ summary: 'Delete a group and its role bindings', status: 204 })
  async remove(@Param('groupId', IdPipe) id: string): Promise<void> {
    await this.groups.remove(id);
  }

  @Post(':groupId/members')
  @Contract({ summary: 'Add a user to a group', body: groupMemberSchema, status: 204 })
  async addMember(@Param('groupId', IdPipe) id: string, @ContractBody() body: { userId: string }): Promise<void> {
    await this.groups.addMember(id, body.userId);
  }

  @Delete(':groupId/members/:userId')
  @Contract({ summary: 'Remove a user from a group', status: 204 })
  async removeMember(@Param('groupId', IdPipe) id: string, @Param('userId', IdPipe) userId: string): Promise<void> {
    await this.groups.removeMember(id, userId);
  }
}
