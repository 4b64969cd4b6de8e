import { useState } from 'react';
import { PrivacyBadge } from '../privacy/PrivacyBadge';
import { UpdateBanner } from '../pwa/UpdateBanner';
import { BackendBadge } from './BackendBadge';
import { SettingsDialog } from './SettingsDialog';
import { useAppStore, type ThemeChoice } from '../store';

const NEXT_THEME: Record<ThemeChoice, ThemeChoice> = { system: 'light', light: 'dark', dark: 'system' };
const THEME_LABEL: Record<ThemeChoice, string> = { system: 'Theme: system', light: 'Theme: light', dark: 'Theme: dark' };

export function Header() {
  const theme = useAppStore((s) => s.theme);
  const setTheme = useAppStore((s) => s.setTheme);
  const [settingsOpen, setSettingsOpen] = useState(false);
  return (
    <header className="header">
      <div className="brand">
        <svg className="brand-mark" viewBox="0 0 32 32" aria-hidden="true">
          <rect width="32" height="32" rx="6" fill="var(--brand)" />
          <rect x="7" y="7" width="18" height="18" rx="2" fill="none" stroke="#fff" strokeWidth="2.5" />
          <rect x="17" y="17" width="6" height="6" fill="var(--accent)" />
        </svg>
        <div>
          <h1 className="brand-name">DeDe Web</h1>
          <p className="brand-tag">Backdoor sample detection for image encoders · your data never leaves this device</p>
        </div>
      </div>
      <div className="header-actions">
        <UpdateBanner />
        <PrivacyBadge />
        <BackendBadge />
        <button type="button" className="button ghost" onClick={() => setTheme(NEXT_THEME[theme])} title="Switch theme">
          {THEME_LABEL[theme]}
        </button>
        <button type="button" className="button ghost" onClick={() => setSettingsOpen(true)}>
          Settings
        </button>
      </div>
      {settingsOpen && <SettingsDialog onClose={() => setSettingsOpen(false)} />}
    </header>
  );
}
