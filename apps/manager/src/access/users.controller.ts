import { Controller, Delete, Get, Param, Patch, Post, Put } from '@nestjs/common';
import { changeOwnPasswordSchema, createUserSchema, updateUserSchema, userSchema, type ChangeOwnPassword, type CreateUser, type UpdateUser } from '@idm/domain';
import { z } from 'zod';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { IdPipe } from '../problems/id.pipe';
import { UsersService } from './users.service';

@Controller('api/v1')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get('users')
  @Contract({ summary: 'List operators', response: z.array(userSchema) })
  list() {
    return this.users.list();
  }

  @Post('users')
  @Contract({ summary: 'Create an operator', body: createUserSchema, status: 201, response: userSchema })
  create(@ContractBody() body: CreateUser) {
    return this.users.create(body);
  }

  @Get('users/:userId')
  @Contract({ summary: 'Get an operator', response: userSchema })
  get(@Param('userId', IdPipe) id: string) {
    return this.users.get(id);
  }

  @Patch('users/:userId')
  @Contract({ summary: 'Update an operator (reset the password)', body: updateUserSchema, response: userSchema })
  update(@Param('userId', IdPipe) id: string, @ContractBody() body: UpdateUser) {
    return this.users.update(id, body);
  }

  @Delete('users/:userId')
  @Contract({ summary: 'Delete an operator and their role bindings', status: 204 })
  async remove(@Param('userId', IdPipe) id: string): Promise<void> {
    await this.users.remove(id);
  }

  @Put('me/password')
  @Contract({ summary: 'Change your own password', body: changeOwnPasswordSchema, status: 204 })
  async changeOwnPassword(@ContractBody() body: ChangeOwnPassword): Promise<void> {
    await this.users.changeOwnPassword(body);
  }
}
