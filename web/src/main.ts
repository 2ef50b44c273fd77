import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { i18n } from './lib/i18n.svelte';
import { theme } from './lib/theme.svelte';

theme.init();
void i18n.init().then(() => {
  const target = document.getElementById('app');
  if (target) mount(App, { target });
});
