import { Controller, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import { createRoleBindingSchema, createRoleSchema, roleBindingSchema, roleSchema, updateRoleSchema, type CreateRole, type CreateRoleBinding, type UpdateRole } from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { RolesService } from './roles.service';

@Controller('api/v1')
export class RolesController {
  constructor(private readonly roles: RolesService) {}

  @Get('roles')
  @Contract({ summary: 'List built-in and custom roles', response: z.array(roleSchema) })
  listRoles() {
    return this.roles.listRoles();
  }

  @Post('roles')
  @Contract({ summary: 'Create a custom role from named permissions', body: createRoleSchema, status: 201, response: roleSchema })
  createRole(@ContractBody() body: CreateRole) {
    return this.roles.createRole(body);
  }

  @Patch('roles/:roleId')
  @Contract({ summary: 'Update a custom role', body: updateRoleSchema, response: roleSchema })
  updateRole(@Param('roleId', IdPipe) id: string, @ContractBody() body: UpdateRole) {
    return this.roles.updateRole(id, body);
  }

  @Delete('roles/:roleId')
  @Contract({ summary: 'Delete a custom role and its bindings', status: 204 })
  async removeRole(@Param('roleId', IdPipe) id: string): Promise<void> {
    await this.roles.removeRole(id);
  }

  @Get('role-bindings')
  @Contract({ summary: 'List role bindings you may see', response: z.array(roleBindingSchema) })
  listBindings() {
    return this.roles.listBindings();
  }

  @Post('role-bindings')
  @Contract({ summary: 'Bind a role to a user or group at a scope (only permissions you hold there)', body: createRoleBindingSchema, status: 201, response: roleBindingSchema })
  createBinding(@ContractBody() body: CreateRoleBinding) {
    return this.roles.createBinding(body);
  }

  @Delete('role-bindings/:bindingId')
  @Contract({ summary: 'Remove a role binding', status: 204 })
  async removeBinding(@Param('bindingId', IdPipe) id: string): Promise<void> {
    await this.roles.removeBinding(id);
  }
}
