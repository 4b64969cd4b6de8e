import { useEffect } from 'react';
import { useAppStore } from '../store';

/** Applies the theme choice to <html data-theme>, following the OS when the choice is "system". */
export function useThemeEffect(): void {
  const theme = useAppStore((s) => s.theme);
  useEffect(() => {
    const media = window.matchMedia('(prefers-color-scheme: dark)');
    const apply = () => {
      const resolved = theme === 'system' ? (media.matches ? 'dark' : 'light') : theme;
      document.documentElement.dataset['theme'] = resolved;
    };
    apply();
    media.addEventListener('change', apply);
    return () => media.removeEventListener('change', apply);
  }, [theme]);
}
