// The emoji picker's catalogue (loaded with the picker): every emoji the client knows
// (`EMOJI`), once each, by category, and which of them come in skin tones.

export const CATEGORIES: { id: 'people' | 'nature' | 'food' | 'activities' | 'objects' | 'symbols'; /** The emoji whose picture stands for the category. */ icon: string; names: string[] }[] = [
  {
    id: 'people',
    icon: 'smile',
    names: [
      '+1', '-1', 'smile', 'smiley', 'grinning', 'grin', 'joy', 'rofl', 'laughing', 'sweat_smile', 'wink', 'blush',
      'innocent', 'slight_smile', 'upside_down', 'heart_eyes', 'kissing_heart', 'yum', 'stuck_out_tongue', 'sunglasses',
      'nerd', 'thinking', 'neutral_face', 'expressionless', 'no_mouth', 'rolling_eyes', 'smirk', 'persevere',
      'disappointed_relieved', 'open_mouth', 'hushed', 'sleepy', 'tired_face', 'sleeping', 'relieved', 'unamused',
      'sweat', 'pensive', 'confused', 'astonished', 'slight_frown', 'confounded', 'disappointed', 'worried', 'triumph',
      'cry', 'sob', 'frowning', 'anguished', 'fearful', 'weary', 'grimacing', 'cold_sweat', 'scream', 'flushed',
      'dizzy_face', 'rage', 'angry', 'mask', 'partying_face', 'hugging', 'shushing_face', 'zipper_mouth',
      'face_with_monocle', 'star_struck', 'pleading_face', 'skull', 'ghost', 'robot', 'poop', 'clown', 'see_no_evil',
      'hear_no_evil', 'speak_no_evil', 'wave', 'clap', 'raised_hands', 'pray', 'ok_hand', 'muscle', 'point_up',
      'point_right', 'point_left', 'v', 'crossed_fingers', 'handshake', 'writing_hand', 'eyes',
    ],
  },
  {
    id: 'nature',
    icon: 'seedling',
    names: [
      'dog', 'cat', 'unicorn', 'bug', 'rose', 'tulip', 'seedling', 'sunny', 'cloud', 'umbrella', 'snowflake', 'rainbow',
      'earth_africa', 'moon', 'star', 'sparkles', 'zap', 'fire', 'sweat_drops', 'dash',
    ],
  },
  { id: 'food', icon: 'pizza', names: ['coffee', 'tea', 'beer', 'pizza', 'cake', 'apple'] },
  { id: 'activities', icon: 'tada', names: ['tada', 'confetti_ball', 'balloon', 'gift', 'trophy', 'medal', 'rocket'] },
  {
    id: 'objects',
    icon: 'bulb',
    names: [
      'bulb', 'memo', 'pushpin', 'paperclip', 'lock', 'unlock', 'key', 'bell', 'mag', 'calendar', 'clock', 'hourglass',
      'hourglass_flowing_sand', 'computer', 'keyboard', 'phone', 'email', 'book', 'chart_with_upwards_trend', 'moneybag',
      'gear', 'hammer', 'wrench', 'link',
    ],
  },
  {
    id: 'symbols',
    icon: 'heart',
    names: [
      'heart', 'orange_heart', 'yellow_heart', 'green_heart', 'blue_heart', 'purple_heart', 'black_heart',
      'broken_heart', 'sparkling_heart', 'white_check_mark', 'heavy_check_mark', 'x', 'warning', 'no_entry', 'question',
      'exclamation', '100', 'arrow_up', 'arrow_down', 'arrow_right', 'arrow_left', 'recycle', 'speech_balloon',
      'thought_balloon', 'zzz', 'boom',
    ],
  },
];

/** Hands and gestures that take a skin tone (`name_tone1` … `name_tone5`, upstream's names). */
export const TONEABLE = new Set([
  '+1', '-1', 'wave', 'clap', 'raised_hands', 'pray', 'ok_hand', 'muscle', 'point_up', 'point_right', 'point_left',
  'v', 'crossed_fingers', 'writing_hand',
]);
