import { useEffect, useState } from 'react';
import { Navigate, Route, Routes, useNavigate } from 'react-router-dom';
import { whenSessionLost } from './api/client';
import { currentSession } from './api/session';
import { Shell } from './layout/Shell';
import { AccessScreen } from './screens/AccessScreen';
import { AnalyticsScreen } from './screens/AnalyticsScreen';
import { ApiopsScreen } from './screens/ApiopsScreen';
import { AuditScreen } from './screens/AuditScreen';
import { EnvironmentScreen } from './screens/EnvironmentScreen';
import { EnvironmentsScreen } from './screens/EnvironmentsScreen';
import { KeyManagersScreen } from './screens/key-managers/KeyManagersScreen';
import { IdentitySourcesScreen } from './screens/IdentitySourcesScreen';
import { NotFoundScreen } from './screens/NotFoundScreen';
import { ProjectScreen } from './screens/ProjectScreen';
import { ProjectsScreen } from './screens/ProjectsScreen';
import { ProxyScreen } from './screens/ProxyScreen';
import { SignInScreen } from './screens/SignInScreen';

export function App() {
  const navigate = useNavigate();
  const [signedIn, setSignedIn] = useState(() => currentSession() !== null);
  useEffect(() => {
    whenSessionLost(() => {
      setSignedIn(false);
      void navigate('/sign-in');
    });
  }, [navigate]);

  if (!signedIn) {
    return (
      <Routes>
        <Route path="*" element={<SignInScreen onSignedIn={() => setSignedIn(true)} />} />
      </Routes>
    );
  }
  return (
    <Shell onSignedOut={() => setSignedIn(false)}>
      <Routes>
        <Route path="/" element={<Navigate to="/projects" replace />} />
        <Route path="/sign-in" element={<Navigate to="/projects" replace />} />
        <Route path="/projects" element={<ProjectsScreen />} />
        <Route path="/projects/:projectId" element={<ProjectScreen />} />
        <Route path="/projects/:projectId/proxies/:proxyId" element={<ProxyScreen />} />
        <Route path="/environments" element={<EnvironmentsScreen />} />
        <Route path="/environments/:environmentId" element={<EnvironmentScreen />} />
        <Route path="/key-managers" element={<KeyManagersScreen />} />
        <Route path="/audit" element={<AuditScreen />} />
        <Route path="/analytics" element={<AnalyticsScreen />} />
        <Route path="/access" element={<AccessScreen />} />
        <Route path="/identity-sources" element={<IdentitySourcesScreen />} />
        <Route path="/apiops" element={<ApiopsScreen />} />
        <Route path="*" element={<NotFoundScreen />} />
      </Routes>
    </Shell>
  );
}
