// Stories render with the same design tokens as the apps.
import './theme.css';
