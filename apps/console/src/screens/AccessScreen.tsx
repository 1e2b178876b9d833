import { TabbedScreen } from '../layout/TabbedScreen';
import { GroupsPanel } from './access/GroupsPanel';
import { RoleBindingsPanel } from './access/RoleBindingsPanel';
import { RolesPanel } from './access/RolesPanel';
import { UsersPanel } from './access/UsersPanel';

/** Who may do what: operators, their groups, roles and where each role is bound. The tab is in the URL so it can be linked. */
export function AccessScreen() {
  return (
    <TabbedScreen
      title="Access"
      tabs={[
        { value: 'operators', label: 'Operators', panel: <UsersPanel /> },
        { value: 'groups', label: 'Groups', panel: <GroupsPanel /> },
        { value: 'roles', label: 'Roles', panel: <RolesPanel /> },
        { value: 'bindings', label: 'Role bindings', panel: <RoleBindingsPanel /> },
      ]}
    />
  );
}
