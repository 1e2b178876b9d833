import { Controller, Post, Req } from '@nestjs/common';
import { Contract, ContractBody } from '../openapi/contract.decorator';
import { loginSchema, sessionSchema } from './login.schema';
import { bearerToken, type AuthenticatedRequest } from './operator-auth.guard';
import { OperatorAuthService } from './operator-auth.service';

@Controller('api/v1/auth')
export class AuthController {
  constructor(private readonly auth: OperatorAuthService) {}

  @Post('login')
  @Contract({ summary: 'Log in as an operator; returns a bearer session token', body: loginSchema, status: 200, public: true, response: sessionSchema })
  login(@ContractBody() body: { username: string; password: string }, @Req() request: AuthenticatedRequest) {
    return this.auth.login(body.username, body.password, request.ip);
  }

  @Post('logout')
  @Contract({ summary: 'End the current operator session', status: 204 })
  async logout(@Req() request: AuthenticatedRequest): Promise<void> {
    await this.auth.logout(bearerToken(request)!);
  }
}
